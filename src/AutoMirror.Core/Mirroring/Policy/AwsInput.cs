using System.Text;

namespace AutoMirror.Core.Mirroring;

/// <summary>
/// AWS's formats and bounds for every field AutoMirror takes from an event, a workflow payload, a reconcile request or
/// the command line, checked before any AWS call: garbage is refused with the field's name instead of reaching EC2
/// (which would answer with an error that names neither the field nor where the value came from).
/// Each check returns null when the value is acceptable, otherwise the problem, starting with the field's name.
/// </summary>
public static class AwsInput
{
    /// <summary>Step Functions' limit for an execution's input and every state's payload: 256 KiB of UTF-8.</summary>
    public const int MaxWorkflowPayloadBytes = 256 * 1024;

    /// <summary>
    /// EC2 (API reference, Tag): a key is at most 127 Unicode characters, a value at most 256. EC2, unlike most services,
    /// restricts no characters in its tags, so only the length is checked.
    /// </summary>
    public const int MaxTagKeyLength = 127;

    public const int MaxTagValueLength = 256;

    /// <summary>EC2's ClientToken: at most 64 ASCII characters.</summary>
    public const int MaxClientTokenLength = 64;

    /// <summary>A bound for ids AutoMirror did not mint (EventBridge's event id, a trigger): generous, and far below any payload limit.</summary>
    public const int MaxEventIdLength = 128;

    public const int MaxVni = (1 << 24) - 1;

    /// <summary><paramref name="prefix"/> followed by 8 or 17 lowercase hexadecimal digits (EC2's two id lengths).</summary>
    public static bool IsResourceId([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? value, string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (value is null || !value.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var digits = value.Length - prefix.Length;
        if (digits is not (8 or 17))
        {
            return false;
        }

        for (var k = prefix.Length; k < value.Length; k++)
        {
            if (!char.IsAsciiHexDigitLower(value[k]) && !char.IsAsciiDigit(value[k]))
            {
                return false;
            }
        }

        return true;
    }

    public static string? InstanceId(string field, string? value) => Id(field, value, "i-", "an instance id");

    public static string? NetworkInterfaceId(string field, string? value) => Id(field, value, "eni-", "a network interface id");

    public static string? SessionId(string field, string? value) => Id(field, value, "tms-", "a traffic mirror session id");

    public static string? SessionNumber(string field, int value) =>
        value is >= 1 and <= 32766 ? null : $"{field} must be a session number from 1 to 32766, got {value}";

    public static string? Vni(string field, int value) =>
        value is >= 0 and <= MaxVni ? null : $"{field} must be a VXLAN network id from 0 to {MaxVni}, got {value}";

    public static string? ClientToken(string field, string? value) =>
        value is { Length: > 0 and <= MaxClientTokenLength } && value.All(c => c is >= '!' and <= '~')
            ? null
            : $"{field} must be 1 to {MaxClientTokenLength} printable ASCII characters (EC2's ClientToken), got {Shown(value)}";

    /// <summary>A lab name is the value of the lab tag: at most 256 characters.</summary>
    public static string? LabName(string field, string? value, bool allowEmpty = false) =>
        value is null || (!allowEmpty && string.IsNullOrWhiteSpace(value))
            ? $"{field} must be a lab name (the lab tag's value), got {Shown(value)}"
            : TagText(field, value, MaxTagValueLength);

    public static string? TagKey(string field, string? value) =>
        string.IsNullOrEmpty(value) ? $"{field} must be a tag key, got {Shown(value)}" : TagText(field, value, MaxTagKeyLength);

    public static string? TagValue(string field, string? value) =>
        value is null ? $"{field} must be a string" : TagText(field, value, MaxTagValueLength);

    /// <summary>EventBridge's event id (a UUID in practice): non-empty, printable ASCII, bounded.</summary>
    public static string? EventId(string field, string? value) =>
        value is { Length: > 0 and <= MaxEventIdLength } && value.All(c => c is >= ' ' and <= '~')
            ? null
            : $"{field} must be 1 to {MaxEventIdLength} printable ASCII characters, got {Shown(value)}";

    /// <summary>EC2 instance type names (<c>m5.large</c>, <c>c7gn.16xlarge</c>, <c>u-6tb1.metal</c>).</summary>
    public static string? InstanceType(string field, string? value) =>
        value is { Length: > 2 and <= 64 } && value.Contains('.', StringComparison.Ordinal)
            && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-')
            ? null
            : $"{field} must be an EC2 instance type such as m5.large, got {Shown(value)}";

    /// <summary>
    /// A workflow's input or a state's payload above Step Functions' 256 KiB limit: StartExecution would refuse it,
    /// a state would fail with States.DataLimitExceeded. Null when it fits.
    /// </summary>
    public static string? WorkflowPayload(string what, string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var bytes = Encoding.UTF8.GetByteCount(json);
        return bytes <= MaxWorkflowPayloadBytes
            ? null
            : $"{what} is {bytes} bytes, above Step Functions' limit of {MaxWorkflowPayloadBytes} bytes (256 KiB)";
    }

    /// <summary>The first problem of several checks, or null.</summary>
    public static string? First(params string?[] problems) => problems.FirstOrDefault(p => p is not null);

    /// <summary>Throws <see cref="InvalidPayloadException"/> with the problem, if any.</summary>
    public static void Require(string? problem)
    {
        if (problem is not null)
        {
            throw new InvalidPayloadException(problem);
        }
    }

    private static string? Id(string field, string? value, string prefix, string what) =>
        IsResourceId(value, prefix) ? null : $"{field} must be {what} ({prefix} and 8 or 17 lowercase hex digits), got {Shown(value)}";

    private static string? TagText(string field, string value, int max) =>
        value.Length <= max ? null : $"{field} is {value.Length} characters, above EC2's tag limit of {max}";

    private static string Shown(string? value) =>
        value is null ? "nothing" : value.Length > 40 ? $"'{value[..40]}…' ({value.Length} characters)" : $"'{value}'";
}
