namespace AutoMirror.Core.Mirroring;

/// <summary>
/// InvalidInstanceID.NotFound: EC2 is eventually consistent right after launch, so the Attach workflow retries
/// this a few times before giving up.
/// </summary>
public sealed class InstanceNotFoundException(string instanceId, Exception? inner = null)
    : Exception($"instance {instanceId} is not (yet) known to EC2", inner)
{
    public string InstanceId { get; } = instanceId;
}

/// <summary>Verify did not find a session the plan asked for; the workflow's Catch cleans up what was made.</summary>
public sealed class SessionVerificationException(string message) : Exception(message);

/// <summary>A workflow step got a payload it cannot act on (a bug in the state machine, not in AWS).</summary>
public sealed class InvalidPayloadException(string message, Exception? inner = null) : Exception(message, inner);
