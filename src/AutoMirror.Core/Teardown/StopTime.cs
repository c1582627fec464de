using System.Globalization;
using System.Text.RegularExpressions;

namespace AutoMirror.Core.Teardown;

/// <summary>
/// When an instance stopped. EC2 has no stop-time field; it writes the time into <c>StateTransitionReason</c>, as
/// in <c>User initiated (2026-11-22 01:02:03 GMT)</c> (also for "Service initiated" and similar; moto writes UTC). That text is
/// the only record EC2 keeps, so it is parsed here; anything else is "unknown", which never counts as idle.
/// </summary>
public static partial class StopTime
{
    public static bool TryParse(string? stateTransitionReason, out DateTimeOffset stoppedAt)
    {
        stoppedAt = default;
        if (string.IsNullOrEmpty(stateTransitionReason))
        {
            return false;
        }

        var match = ReasonTime().Match(stateTransitionReason);
        return match.Success && DateTimeOffset.TryParseExact(
            match.Groups[1].Value, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out stoppedAt);
    }

    [GeneratedRegex(@"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex ReasonTime();
}
