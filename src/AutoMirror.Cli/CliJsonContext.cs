using System.Text.Json.Serialization;
using AutoMirror.Cli.Reconcile;
using AutoMirror.Cli.Status;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Cli;

/// <summary>`reconcile --json`: the reconciler's own report, and with --dry-run the changes it would have made.</summary>
public sealed record ReconcileOutput(
    [property: JsonPropertyName("dryRun")] bool DryRun,
    [property: JsonPropertyName("report")] ReconcileReport Report,
    [property: JsonPropertyName("plannedChanges")] IReadOnlyList<PlannedChange> PlannedChanges);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(StatusReport))]
[JsonSerializable(typeof(ReconcileOutput))]
[JsonSerializable(typeof(AutoMirror.Core.Teardown.LabReport))]
public sealed partial class CliJsonContext : JsonSerializerContext;
