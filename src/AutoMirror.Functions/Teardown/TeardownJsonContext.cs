using System.Text.Json.Serialization;

namespace AutoMirror.Functions.Teardown;

/// <summary>Source-generated JSON for the teardown's payloads (no reflection, as for the other functions).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(TeardownInput))]
[JsonSerializable(typeof(LabSessionList))]
[JsonSerializable(typeof(DeleteOutcome))]
[JsonSerializable(typeof(InstanceActionResult))]
[JsonSerializable(typeof(LabReport))]
[JsonSerializable(typeof(IdleLabsResult))]
public sealed partial class TeardownJsonContext : JsonSerializerContext;
