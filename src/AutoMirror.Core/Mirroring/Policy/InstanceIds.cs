namespace AutoMirror.Core.Mirroring;

/// <summary>The one check of an EC2 instance id, for every input that names one (events, workflow payloads, the CLI).</summary>
public static class InstanceIds
{
    /// <summary>AWS's form: <c>i-</c> and 8 (older) or 17 lowercase hexadecimal digits.</summary>
    public static bool IsInstanceId([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? value) => AwsInput.IsResourceId(value, "i-");
}
