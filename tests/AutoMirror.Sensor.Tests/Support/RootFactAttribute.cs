namespace AutoMirror.Sensor.Tests.Support;

/// <summary>
/// A fact that needs root (bpf(2) program loads and test runs need CAP_BPF/CAP_NET_ADMIN); skips saying so otherwise.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root" && !string.Equals(Environment.GetEnvironmentVariable("USER"), "root", StringComparison.Ordinal))
        {
            Skip = "skipped: needs root to load eBPF programs (bpf(2))";
        }
    }
}
