using System.Text.Json;
using System.Text.Json.Serialization;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Core;

/// <summary>
/// Source-generated JSON for every payload the functions and the CLI read or write (no reflection: AOT and trim
/// safe). One context, so a payload has one spelling wherever it is read. Nulls are left out; the teardown's
/// nullable fields the workflow reads as present keep theirs with <c>JsonIgnoreCondition.Never</c>.
/// </summary>
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
[JsonSerializable(typeof(TeardownInput))]
[JsonSerializable(typeof(LabSessionList))]
[JsonSerializable(typeof(DeleteOutcome))]
[JsonSerializable(typeof(InstanceActionResult))]
[JsonSerializable(typeof(LabReport))]
[JsonSerializable(typeof(IdleLabsResult))]
public sealed partial class AutoMirrorJsonContext : JsonSerializerContext;
