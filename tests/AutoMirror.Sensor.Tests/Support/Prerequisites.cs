namespace AutoMirror.Sensor.Tests.Support;

/// <summary>What an integration test needs from the machine, and a sentence saying why it skips when absent.</summary>
internal static class Prerequisites
{
    public static string? FindTool(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    public static string? MissingTools(params string[] tools)
    {
        var missing = tools.Where(t => FindTool(t) is null).ToArray();
        return missing.Length == 0 ? null : "skipped: needs " + string.Join(", ", missing) + " on PATH (tests/sensor-e2e/prereqs.sh installs them)";
    }

    /// <summary>Network namespaces, veth and a TAP need root and /dev/net/tun.</summary>
    public static string? MissingNetns()
    {
        if (Environment.UserName != "root" && !string.Equals(Environment.GetEnvironmentVariable("USER"), "root", StringComparison.Ordinal))
        {
            return "skipped: needs root to create network namespaces and a TAP device";
        }

        return File.Exists("/dev/net/tun") ? null : "skipped: /dev/net/tun is absent (no TUN/TAP support in this kernel)";
    }
}

/// <summary>A fact that skips, saying which tool is missing, when an external tool is not installed.</summary>
public sealed class ToolFactAttribute : FactAttribute
{
    public ToolFactAttribute(params string[] tools)
    {
        Skip = Prerequisites.MissingTools(tools);
    }
}

/// <summary>A fact that needs root, namespaces and the listed tools; skips saying what is missing.</summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute(params string[] tools)
    {
        Skip = Prerequisites.MissingNetns() ?? Prerequisites.MissingTools(tools);
    }
}
