using System.Text.Json.Serialization;

namespace AutoMirror.Cli.Status;

// `automirror status --json`: these names are the stable keys scripts read.

public sealed record StatusReport(
    [property: JsonPropertyName("instances")] IReadOnlyList<InstanceStatus> Instances,
    [property: JsonPropertyName("labs")] IReadOnlyList<LabSummary> Labs,
    [property: JsonPropertyName("sensor")] SensorStatus Sensor,
    [property: JsonPropertyName("totals")] StatusTotals Totals)
{
    /// <summary>The stack's hourly cost estimate (CostEstimateReader); absent when it was not read.</summary>
    [JsonPropertyName("estimate")]
    public StatusEstimate? Estimate { get; init; }
}

public sealed record InstanceStatus(
    [property: JsonPropertyName("instanceId")] string InstanceId,
    [property: JsonPropertyName("lab")] string? Lab,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("mirrorTag")] string? MirrorTag,
    [property: JsonPropertyName("statusTag")] string? StatusTag,
    [property: JsonPropertyName("correlationId")] string? CorrelationId,
    [property: JsonPropertyName("sessions")] IReadOnlyList<SessionStatus> Sessions,
    [property: JsonPropertyName("otherSessions")] int OtherSessions,
    [property: JsonPropertyName("hourlyCost")] decimal HourlyCost);

public sealed record SessionStatus(
    [property: JsonPropertyName("sessionId")] string SessionId,
    [property: JsonPropertyName("networkInterfaceId")] string NetworkInterfaceId,
    [property: JsonPropertyName("sessionNumber")] int SessionNumber,
    [property: JsonPropertyName("virtualNetworkId")] int? VirtualNetworkId,
    [property: JsonPropertyName("correlationId")] string? CorrelationId = null);

public sealed record LabSummary(
    [property: JsonPropertyName("lab")] string Lab,
    [property: JsonPropertyName("instances")] int Instances,
    [property: JsonPropertyName("sessions")] int Sessions,
    [property: JsonPropertyName("hourlyCost")] decimal HourlyCost,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("idle")] bool Idle,
    [property: JsonPropertyName("reasons")] IReadOnlyList<string> Reasons);

public sealed record SensorStatus(
    [property: JsonPropertyName("mirrorTargetId")] string MirrorTargetId,
    [property: JsonPropertyName("targetGroupArn")] string? TargetGroupArn,
    [property: JsonPropertyName("healthyTargets")] int? HealthyTargets,
    [property: JsonPropertyName("targets")] IReadOnlyList<TargetStatus> Targets);

public sealed record TargetStatus(
    [property: JsonPropertyName("targetId")] string TargetId,
    [property: JsonPropertyName("port")] int? Port,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("reason")] string? Reason);

public sealed record StatusTotals(
    [property: JsonPropertyName("instances")] int Instances,
    [property: JsonPropertyName("sessions")] int Sessions,
    [property: JsonPropertyName("hourlyCost")] decimal HourlyCost);
