using AutoMirror.Core.Ownership;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// Whether an instance qualifies, and why not. <see cref="Status"/> is the automirror:status value the decision
/// implies; null means "no status" (the tag is removed if AutoMirror wrote one before).
/// </summary>
public sealed record Eligibility(bool Qualifies, string Reason, MirrorStatus? Status, IReadOnlyList<InstanceNetworkInterface> SourceInterfaces)
{
    /// <summary>
    /// AutoMirror is responsible for the instance (<see cref="MirrorPolicy.InScope"/>): only then does it carry the
    /// automirror:status tag. An instance can be in scope and not qualify (stopped, excluded, unsupported type).
    /// </summary>
    public bool InScope { get; init; } = true;

    public static Eligibility No(string reason, MirrorStatus? status = null) => new(false, reason, status, []);
}

/// <summary>The rules that decide whether an instance is mirrored. Pure: every fact comes in as an argument.</summary>
public static class MirrorPolicy
{
    public const string AutoScalingGroupTag = "aws:autoscaling:groupName";

    public static bool IsTagged(IReadOnlyDictionary<string, string> tags, AutoMirrorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.OptIn.IsOptedIn(tags);
    }

    public static bool IsExcluded(IReadOnlyDictionary<string, string> tags, AutoMirrorSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.OptIn.IsExcluded(tags);
    }

    /// <summary>
    /// Only ENIs of type <c>interface</c> can be sources (AWS: "a traffic mirror source is the network interface of
    /// type interface"); EFA-only, trunk and branch interfaces are skipped. An absent type is the default type.
    /// </summary>
    public static bool CanBeSource(InstanceNetworkInterface eni)
    {
        ArgumentNullException.ThrowIfNull(eni);
        return string.IsNullOrEmpty(eni.InterfaceType) || string.Equals(eni.InterfaceType, "interface", StringComparison.Ordinal);
    }

    /// <param name="instance">As EC2 describes it now.</param>
    /// <param name="state">The state to judge by: the instance's own, or a state-change event's when that is newer.</param>
    /// <param name="typeVerdict">From <see cref="InstanceTypeSupport.Evaluate"/>.</param>
    /// <param name="targetEniIds">Interfaces that receive mirrored traffic (an ENI target): mirroring them loops.</param>
    public static Eligibility Evaluate(Ec2Instance instance, string state, AutoMirrorSettings settings, TypeVerdict typeVerdict, IReadOnlySet<string> targetEniIds)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(typeVerdict);
        ArgumentNullException.ThrowIfNull(targetEniIds);
        return Judge(instance, state, settings, typeVerdict, targetEniIds) with { InScope = InScope(instance, settings, targetEniIds) };
    }

    /// <summary>
    /// Whether AutoMirror is responsible for the instance at all: it opted in with the mirror tag, lives in a
    /// configured VPC and is not a sensor. Whatever its state or exclude tag, such an instance may carry
    /// automirror:status; any other never does (the tag is removed when an instance leaves scope).
    /// </summary>
    public static bool InScope(Ec2Instance instance, AutoMirrorSettings settings, IReadOnlySet<string> targetEniIds)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(targetEniIds);
        return IsTagged(instance.Tags, settings)
            && (settings.VpcIds.Count == 0 || (instance.VpcId is not null && settings.VpcIds.Contains(instance.VpcId)))
            && !IsSensor(instance, settings, targetEniIds);
    }

    private static Eligibility Judge(Ec2Instance instance, string state, AutoMirrorSettings settings, TypeVerdict typeVerdict, IReadOnlySet<string> targetEniIds)
    {

        // Billing is per interface-hour: anything not running gives its sessions up, whatever its tags say.
        if (!string.Equals(state, "running", StringComparison.Ordinal))
        {
            return Eligibility.No("instance-" + state);
        }

        if (!IsTagged(instance.Tags, settings))
        {
            return Eligibility.No("not-tagged");
        }

        if (IsExcluded(instance.Tags, settings))
        {
            return Eligibility.No("excluded", MirrorStatus.Excluded);
        }

        if (settings.VpcIds.Count > 0 && (instance.VpcId is null || !settings.VpcIds.Contains(instance.VpcId)))
        {
            return Eligibility.No("outside-configured-vpcs");
        }

        if (IsSensor(instance, settings, targetEniIds))
        {
            return Eligibility.No("sensor-would-loop");
        }

        if (!typeVerdict.IsSupported)
        {
            return Eligibility.No("unsupported-instance-type:" + typeVerdict.Reason, MirrorStatus.UnsupportedInstanceType);
        }

        var sources = instance.NetworkInterfaces
            .Where(CanBeSource)
            .Where(eni => !targetEniIds.Contains(eni.NetworkInterfaceId))
            .Where(eni => eni.SubnetId is null || !settings.SensorSubnetIds.Contains(eni.SubnetId))
            .OrderBy(eni => eni.DeviceIndex)
            .ThenBy(eni => eni.NetworkInterfaceId, StringComparer.Ordinal)
            .ToList();
        if (sources.Count == 0)
        {
            return Eligibility.No("no-eligible-interface", MirrorStatus.Error);
        }

        return new Eligibility(true, "qualifies", MirrorStatus.Mirrored, sources);
    }

    private static bool IsSensor(Ec2Instance instance, AutoMirrorSettings settings, IReadOnlySet<string> targetEniIds)
    {
        if (instance.SubnetId is not null && settings.SensorSubnetIds.Contains(instance.SubnetId))
        {
            return true;
        }

        if (settings.SensorAutoScalingGroup is not null
            && instance.Tags.TryGetValue(AutoScalingGroupTag, out var group)
            && string.Equals(group, settings.SensorAutoScalingGroup, StringComparison.Ordinal))
        {
            return true;
        }

        return instance.NetworkInterfaces.Any(eni => targetEniIds.Contains(eni.NetworkInterfaceId));
    }
}
