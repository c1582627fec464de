namespace AutoMirror.Core.Mirroring;

/// <summary>The one check of an EC2 instance id, for every input that names one (events, workflow payloads, the CLI).</summary>
public static class InstanceIds
{
    public static bool IsInstanceId([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? value) =>
        value is not null && value.StartsWith("i-", StringComparison.Ordinal);
}
