using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace AutoMirror.Aws.StepFunctions;

// Source-generated so serialization stays trimming/AOT-safe.
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class JsonContext : JsonSerializerContext;
