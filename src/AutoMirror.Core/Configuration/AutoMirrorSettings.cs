using AutoMirror.Core.Ownership;
using System.Collections.Frozen;
using System.Globalization;

namespace AutoMirror.Core.Configuration;

/// <summary>
/// Everything AutoMirror's functions read from the environment, read once per container. Names and defaults are
/// those of docs/contracts.md. Variables needed only by some functions (the attach gate, the state machines) are
/// kept nullable here and demanded by name where they are used, so one function's missing variable cannot break
/// another.
/// </summary>
public sealed record AutoMirrorSettings
{
    public const int MinPacketLength = 64;
    public const int MaxPacketLength = 8500;
    public const int MaxSessionNumber = 32766;
    public const int MaxVni = (1 << 24) - 1;

    public string MirrorTagKey { get; init; } = "automirror";

    /// <summary>Accepted values of the mirror tag, compared case-insensitively.</summary>
    public FrozenSet<string> MirrorTagValues { get; init; } = Set(["true"]);

    public string ExcludeTagKey { get; init; } = "automirror:exclude";

    public OptInTags OptIn => new(MirrorTagKey, MirrorTagValues, ExcludeTagKey);

    public string LabTagKey { get; init; } = "lab";

    /// <summary>Empty means every VPC: EventBridge cannot filter by VPC, so the functions do.</summary>
    public FrozenSet<string> VpcIds { get; init; } = Set([]);

    public required string MirrorTargetId { get; init; }

    /// <summary>
    /// The stack's account (ACCOUNT_ID, optional): with a target shared through AWS RAM, its owner sees the sessions
    /// source accounts made to it; only this account's are AutoMirror's to change.
    /// </summary>
    public string? AccountId { get; init; }

    public required string MirrorFilterId { get; init; }

    public string? SensorTargetGroupArn { get; init; }

    /// <summary>What the mirror target is (TARGET_KIND, issue #17 item 1): nlb when unset, as before the setting existed.</summary>
    public MirrorTargetKind TargetKind { get; init; } = MirrorTargetKind.Nlb;

    /// <summary>TargetKind eni: the interface that is the target (SENSOR_INTERFACE_ID), held by the healthy sensor.</summary>
    public string? SensorInterfaceId { get; init; }

    public FrozenSet<string> SensorSubnetIds { get; init; } = Set([]);

    public string? SensorAutoScalingGroup { get; init; }

    public int? PreferredSessionNumber { get; init; }

    /// <summary>
    /// The operator's explicit consent to take <see cref="PreferredSessionNumber"/> even where it is evaluated before a
    /// session someone else made on the interface (which then gets no packets our filter accepts). Off by default.
    /// </summary>
    public bool PreferredSessionNumberAheadOfForeign { get; init; }

    /// <summary>Null mirrors whole packets (AWS's default when PacketLength is omitted).</summary>
    public int? PacketLength { get; init; }

    public int? DefaultVni { get; init; }

    public bool StatusTag { get; init; } = true;

    /// <summary>
    /// ZONE_LOCAL_DELIVERY: the stack's load balancer has cross-zone balancing off, so an instance is attached only
    /// once a sensor in its own Availability Zone is healthy (its zone's load balancer node sends nowhere else).
    /// </summary>
    public bool ZoneLocalDelivery { get; init; }

    public IReadOnlyList<string> SupportedInstanceTypes { get; init; } = [];

    public IReadOnlyList<string> UnsupportedInstanceTypes { get; init; } = [];

    public string? AttachStateMachineArn { get; init; }

    public string? TeardownStateMachineArn { get; init; }

    public int IdleMinutes { get; init; } = 120;

    public string TeardownAction { get; init; } = "report";

    public bool AllowTerminate { get; init; }

    public decimal SessionHourlyPrice { get; init; } = 0.015m;

    /// <summary>
    /// The function's configured timeout (template.yaml sets FUNCTION_TIMEOUT_SECONDS to each function's Timeout):
    /// the managed runtime's Stream contract exposes no remaining time, so each invocation's budget is derived from
    /// it. Null outside Lambda (the CLI, the benches): no deadline.
    /// </summary>
    public TimeSpan? FunctionTimeout { get; init; }

    /// <summary>
    /// How long a container reuses a healthy answer of the sensor target group (SensorHealth); 0 asks every time.
    /// The stack parameter SensorHealthMaxAgeSeconds; the default follows an NLB's own detection latency.
    /// </summary>
    public TimeSpan SensorHealthMaxAge { get; init; } = TimeSpan.FromSeconds(60);

    public string RequireSensorTargetGroupArn() =>
        SensorTargetGroupArn ?? throw new ConfigurationException("SENSOR_TARGET_GROUP_ARN is required by this function and is not set");

    public string RequireSensorInterfaceId() =>
        SensorInterfaceId ?? throw new ConfigurationException("SENSOR_INTERFACE_ID is required when TARGET_KIND is eni and is not set");

    public string RequireAttachStateMachineArn() =>
        AttachStateMachineArn ?? throw new ConfigurationException("ATTACH_STATE_MACHINE_ARN is required by this function and is not set");

    public static AutoMirrorSettings FromEnvironment() =>
        FromVariables(name => Environment.GetEnvironmentVariable(name));

    /// <summary>Reads the settings through <paramref name="variable"/>; an empty value counts as unset.</summary>
    public static AutoMirrorSettings FromVariables(Func<string, string?> variable)
    {
        ArgumentNullException.ThrowIfNull(variable);
        string? Get(string name) => variable(name) is { } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        var mirrorTagValues = List(Get("MIRROR_TAG_VALUES"));
        if (Get("MIRROR_TAG_VALUES") is not null && mirrorTagValues.Count == 0)
        {
            throw new ConfigurationException("MIRROR_TAG_VALUES must list at least one value");
        }

        var packetLength = OptionalInt(Get("PACKET_LENGTH"), "PACKET_LENGTH", MinPacketLength, MaxPacketLength,
            "PACKET_LENGTH must be between 64 and 8500 bytes (unset mirrors whole packets); a shorter value truncates every packet below its headers");

        var settings = new AutoMirrorSettings
        {
            MirrorTagKey = Get("MIRROR_TAG_KEY") ?? "automirror",
            MirrorTagValues = mirrorTagValues.Count > 0 ? Set(mirrorTagValues) : Set(["true"]),
            ExcludeTagKey = Get("EXCLUDE_TAG_KEY") ?? "automirror:exclude",
            LabTagKey = Get("LAB_TAG_KEY") ?? "lab",
            VpcIds = Set(List(Get("VPC_IDS"))),
            MirrorTargetId = Required(Get("MIRROR_TARGET_ID"), "MIRROR_TARGET_ID", "tmt-"),
            AccountId = AccountIdOf(Get("ACCOUNT_ID")),
            MirrorFilterId = Required(Get("MIRROR_FILTER_ID"), "MIRROR_FILTER_ID", "tmf-"),
            SensorTargetGroupArn = Get("SENSOR_TARGET_GROUP_ARN"),
            TargetKind = OneOf(Get("TARGET_KIND") ?? "nlb", "TARGET_KIND", ["nlb", "eni", "gwlbe"]).ToUpperInvariant() switch
            {
                "ENI" => MirrorTargetKind.Eni,
                "GWLBE" => MirrorTargetKind.Gwlbe,
                _ => MirrorTargetKind.Nlb,
            },
            SensorInterfaceId = Get("SENSOR_INTERFACE_ID"),
            SensorSubnetIds = Set(List(Get("SENSOR_SUBNET_IDS"))),
            SensorAutoScalingGroup = Get("SENSOR_AUTOSCALING_GROUP"),
            PreferredSessionNumber = OptionalInt(Get("PREFERRED_SESSION_NUMBER"), "PREFERRED_SESSION_NUMBER", 1, MaxSessionNumber,
                "PREFERRED_SESSION_NUMBER must be between 1 and 32766"),
            PreferredSessionNumberAheadOfForeign = Bool(Get("PREFERRED_SESSION_NUMBER_AHEAD_OF_FOREIGN"), "PREFERRED_SESSION_NUMBER_AHEAD_OF_FOREIGN", false),
            PacketLength = packetLength,
            DefaultVni = OptionalInt(Get("DEFAULT_VNI"), "DEFAULT_VNI", 0, MaxVni, "DEFAULT_VNI must be between 0 and 16777215 (24 bits)"),
            StatusTag = Bool(Get("STATUS_TAG"), "STATUS_TAG", true),
            ZoneLocalDelivery = Bool(Get("ZONE_LOCAL_DELIVERY"), "ZONE_LOCAL_DELIVERY", false),
            SupportedInstanceTypes = List(Get("SUPPORTED_INSTANCE_TYPES")),
            UnsupportedInstanceTypes = List(Get("UNSUPPORTED_INSTANCE_TYPES")),
            AttachStateMachineArn = Get("ATTACH_STATE_MACHINE_ARN"),
            TeardownStateMachineArn = Get("TEARDOWN_STATE_MACHINE_ARN"),
            IdleMinutes = OptionalInt(Get("IDLE_MINUTES"), "IDLE_MINUTES", 1, 525600, "IDLE_MINUTES must be a whole number of minutes, at least 1") ?? 120,
            TeardownAction = OneOf(Get("TEARDOWN_ACTION") ?? "report", "TEARDOWN_ACTION", ["report", "detach", "stop", "terminate"]),
            AllowTerminate = Bool(Get("ALLOW_TERMINATE"), "ALLOW_TERMINATE", false),
            SessionHourlyPrice = Price(Get("SESSION_HOURLY_PRICE")),
            SensorHealthMaxAge = TimeSpan.FromSeconds(OptionalInt(Get("SENSOR_HEALTH_MAX_AGE_SECONDS"), "SENSOR_HEALTH_MAX_AGE_SECONDS", 0, 300,
                "SENSOR_HEALTH_MAX_AGE_SECONDS must be 0 to 300 seconds") ?? 60),
            FunctionTimeout = OptionalInt(Get("FUNCTION_TIMEOUT_SECONDS"), "FUNCTION_TIMEOUT_SECONDS", 1, 900,
                "FUNCTION_TIMEOUT_SECONDS must be the function's Timeout, 1 to 900 seconds") is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
        };
        return settings;
    }

    private static FrozenSet<string> Set(IEnumerable<string> values) => values.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    private static List<string> List(string? value) =>
        value is null ? [] : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static string? AccountIdOf(string? value) =>
        value is null || (value.Length == 12 && value.All(char.IsAsciiDigit))
            ? value
            : throw new ConfigurationException($"ACCOUNT_ID must be a 12-digit AWS account id, got '{value}'");

    private static string Required(string? value, string name, string prefix)
    {
        if (value is null)
        {
            throw new ConfigurationException($"{name} is required and is not set");
        }

        if (!value.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new ConfigurationException($"{name} must be an id starting with '{prefix}', got '{value}'");
        }

        return value;
    }

    private static int? OptionalInt(string? value, string name, int min, int max, string rule)
    {
        if (value is null)
        {
            return null;
        }

        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) || parsed < min || parsed > max)
        {
            throw new ConfigurationException($"{rule}; {name} is '{value}'");
        }

        return parsed;
    }

    private static bool Bool(string? value, string name, bool defaultValue) => value?.ToUpperInvariant() switch
    {
        null => defaultValue,
        "TRUE" => true,
        "FALSE" => false,
        _ => throw new ConfigurationException($"{name} must be true or false, got '{value}'"),
    };

    private static string OneOf(string value, string name, string[] allowed) =>
        Array.Find(allowed, a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase))
        ?? throw new ConfigurationException($"{name} must be one of {string.Join(" | ", allowed)}, got '{value}'");

    private static decimal Price(string? value)
    {
        if (value is null)
        {
            return 0.015m;
        }

        if (!decimal.TryParse(value, NumberStyles.Number, CultureInfo.InvariantCulture, out var price) || price < 0)
        {
            throw new ConfigurationException($"SESSION_HOURLY_PRICE must be a non-negative number of USD, got '{value}'");
        }

        return price;
    }
}
