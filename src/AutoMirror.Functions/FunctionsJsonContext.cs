using System.Text.Json;
using System.Text.Json.Serialization;
using AutoMirror.Functions.Handlers;
using AutoMirror.Functions.Mirroring;

namespace AutoMirror.Functions;

/// <summary>Source-generated JSON for every payload the functions read or write (no reflection: AOT and trim safe).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(AttachInput))]
[JsonSerializable(typeof(AttachPlan))]
[JsonSerializable(typeof(TargetHealth))]
[JsonSerializable(typeof(CreatedSessions))]
[JsonSerializable(typeof(VerifyInput))]
[JsonSerializable(typeof(Verified))]
[JsonSerializable(typeof(CleanupInput))]
[JsonSerializable(typeof(CleanupResult))]
[JsonSerializable(typeof(EventResult))]
[JsonSerializable(typeof(ReconcileRequest))]
[JsonSerializable(typeof(ReconcileReport))]
[JsonSerializable(typeof(RejectedInput))]
public sealed partial class FunctionsJsonContext : JsonSerializerContext;
