using AutoMirror.Aws.Ec2;

namespace AutoMirror.Core.Mirroring;

public enum TypeSupport
{
    Supported,
    Unsupported,
}

public sealed record TypeVerdict(TypeSupport Support, string Reason)
{
    public bool IsSupported => Support == TypeSupport.Supported;
}

/// <summary>
/// Whether an instance type can be a mirror source. "Nitro" is not the same as "supported": AWS documents Nitro
/// families that cannot be sources, bare metal that cannot, and a few Xen families that can (Traffic Mirroring
/// limitations, "Instance types"). DescribeInstanceTypes supplies Hypervisor and BareMetal; configuration overrides
/// both ways; and a create AWS refuses for the instance type is the final word (the reconciler records that).
/// </summary>
public static class InstanceTypeSupport
{
    /// <summary>Virtualized Nitro families AWS lists as unable to be mirror sources.</summary>
    public static readonly IReadOnlySet<string> UnsupportedNitroFamilies = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "m8g", "m6a", "m6i", "m6id", "m6idn", "m6in", "m7a", "m7g", "m7gd", "m7i", "m7i-flex",
        "c8g", "c6a", "c6gd", "c6gn", "c6i", "c6id", "c6in", "c7a", "c7g", "c7gd", "c7gn", "c7i",
        "r8g", "r6a", "r6i", "r6id", "r6idn", "r6in", "r7a", "r7g", "r7gd", "r7i", "r7iz", "x8g", "x2idn", "x2iedn", "x2iezn",
        "i4g", "i4i", "im4gn", "is4gen",
        "inf2", "p5", "trn1", "trn1n",
        "hpc6a", "hpc6id", "hpc7a", "hpc7g",
    };

    /// <summary>The only non-Nitro (Xen) families AWS supports as sources; T2 is not among them.</summary>
    public static readonly IReadOnlySet<string> SupportedXenFamilies = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "c4", "d2", "g3", "g3s", "h1", "i3", "m4", "p2", "p3", "r4", "x1", "x1e",
    };

    public static string FamilyOf(string instanceType)
    {
        ArgumentNullException.ThrowIfNull(instanceType);
        var dot = instanceType.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? instanceType : instanceType[..dot];
    }

    /// <summary>
    /// Decides with the configured overrides first (an operator knows better than a list that ages), then the
    /// type's facts, then the documented families. <paramref name="info"/> is null when DescribeInstanceTypes did
    /// not know the type; then only the family lists and the create's answer can decide, and the type is tried.
    /// </summary>
    public static TypeVerdict Evaluate(string instanceType, InstanceTypeInfo? info, IReadOnlyList<string> supportedOverrides, IReadOnlyList<string> unsupportedOverrides)
    {
        ArgumentNullException.ThrowIfNull(instanceType);
        ArgumentNullException.ThrowIfNull(supportedOverrides);
        ArgumentNullException.ThrowIfNull(unsupportedOverrides);
        if (Matches(unsupportedOverrides, instanceType))
        {
            return new(TypeSupport.Unsupported, "configured-unsupported");
        }

        if (Matches(supportedOverrides, instanceType))
        {
            return new(TypeSupport.Supported, "configured-supported");
        }

        var family = FamilyOf(instanceType);
        if (info?.BareMetal == true || instanceType.EndsWith(".metal", StringComparison.OrdinalIgnoreCase)
            || instanceType.Contains(".metal-", StringComparison.OrdinalIgnoreCase))
        {
            return new(TypeSupport.Unsupported, "bare-metal");
        }

        if (UnsupportedNitroFamilies.Contains(family))
        {
            return new(TypeSupport.Unsupported, "documented-unsupported-family");
        }

        if (string.Equals(info?.Hypervisor, "xen", StringComparison.OrdinalIgnoreCase))
        {
            return SupportedXenFamilies.Contains(family)
                ? new(TypeSupport.Supported, "documented-supported-xen")
                : new(TypeSupport.Unsupported, "xen-not-supported");
        }

        if (string.Equals(info?.Hypervisor, "nitro", StringComparison.OrdinalIgnoreCase))
        {
            return new(TypeSupport.Supported, "nitro");
        }

        // Unknown hypervisor: the documented Xen families are still known good; anything else is tried and
        // AWS's answer to the create decides.
        return new(TypeSupport.Supported, SupportedXenFamilies.Contains(family) ? "documented-supported-xen" : "unknown-hypervisor-try");
    }

    /// <summary>Exact type or <c>family.*</c>, case-insensitive.</summary>
    public static bool Matches(IReadOnlyList<string> patterns, string instanceType)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        ArgumentNullException.ThrowIfNull(instanceType);
        foreach (var pattern in patterns)
        {
            if (pattern.EndsWith(".*", StringComparison.Ordinal)
                ? string.Equals(pattern[..^2], FamilyOf(instanceType), StringComparison.OrdinalIgnoreCase)
                : string.Equals(pattern, instanceType, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
