using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AutoMirror.Core.Mirroring;

/// <summary>Deterministic identities: the ClientToken of a session and the VNI of a lab.</summary>
public static class SessionIdentity
{
    private const int MaxVni = (1 << 24) - 1;

    /// <summary>
    /// The ClientToken for (interface, target, filter, session number): two invocations planning the same session
    /// send the same token, so AWS creates it once. 4 + 40 ASCII characters, within EC2's 64.
    /// </summary>
    public static string ClientToken(string networkInterfaceId, string targetId, string filterId, int sessionNumber) =>
        "am1-" + Hex($"{networkInterfaceId}|{targetId}|{filterId}|{sessionNumber.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>
    /// The ClientToken of a create-first attach: (interface, target, filter, session number) and the attach's
    /// correlation id (its event id). A retried step or a duplicate delivery of the event sends the same token, so EC2
    /// creates once; a later attach (a re-tag after a detach) sends another, so EC2 can never answer it with a session
    /// deleted since — the create's answer is then a live session and serves as the verification. Concurrent attaches
    /// of one interface meet at the session number instead: the second create is refused (the number is taken) and
    /// Verify describes the interface. 4 + 40 ASCII characters, within EC2's 64.
    /// </summary>
    public static string AttachClientToken(string networkInterfaceId, string targetId, string filterId, int sessionNumber, string correlationId) =>
        "am3-" + Hex($"{networkInterfaceId}|{targetId}|{filterId}|{sessionNumber.ToString(CultureInfo.InvariantCulture)}|{correlationId}");

    /// <summary>
    /// EC2 remembers a ClientToken after the session it created is deleted, and answers a later create with that
    /// token by returning the deleted session. The retry token is salted with the stale session's id, which every
    /// concurrent caller sees alike, so the retry stays idempotent across them.
    /// </summary>
    public static string RetryClientToken(string clientToken, string staleSessionId) =>
        "am2-" + Hex($"{clientToken}|{staleSessionId}");

    /// <summary>The VNI a lab's name hashes to, in 1..2^24-1 (0 is left out: some decoders treat it as "unset").</summary>
    public static int HashVni(string lab)
    {
        ArgumentNullException.ThrowIfNull(lab);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("automirror-lab|" + lab), digest);
        return (int)(BinaryPrimitives.ReadUInt32BigEndian(digest) % MaxVni) + 1;
    }

    /// <summary>
    /// The VNI for <paramref name="lab"/>: the one its existing sessions already carry (stable across runs), else
    /// its hash, probing upward past VNIs other labs hold (collision-free within what the account shows), so the
    /// sensor can tell cloned labs with identical CIDRs apart. <paramref name="vniLabs"/> maps VNIs in use by
    /// AutoMirror sessions to their labs.
    /// </summary>
    public static int VniForLab(string lab, IReadOnlyDictionary<int, string> vniLabs, int? defaultVni)
    {
        ArgumentNullException.ThrowIfNull(lab);
        ArgumentNullException.ThrowIfNull(vniLabs);
        if (lab.Length == 0 && defaultVni is { } configured)
        {
            return configured;
        }

        var owned = vniLabs.Where(kv => kv.Value == lab).Select(kv => kv.Key).DefaultIfEmpty(-1).Min();
        if (owned >= 0)
        {
            return owned;
        }

        var candidate = HashVni(lab);
        for (var probes = 0; probes < MaxVni; probes++)
        {
            var takenByOtherLab = vniLabs.TryGetValue(candidate, out var holder) && holder != lab;
            var reservedForDefault = lab.Length > 0 && defaultVni == candidate;
            if (!takenByOtherLab && !reservedForDefault)
            {
                return candidate;
            }

            candidate = candidate % MaxVni + 1;
        }

        throw new InvalidOperationException("every VNI is taken");
    }

    private static string Hex(string value) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..40];
}
