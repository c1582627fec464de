using AutoMirror.Aws;

namespace AutoMirror.Core.Mirroring;

/// <summary>Classifies EC2 error codes the domain reacts to; everything else propagates as a failure.</summary>
public static class AwsErrors
{
    public static bool IsInstanceNotFound(AwsServiceException e) =>
        e is not ThrottledException and not TransientServiceException
        && (e.ErrorCode is "InvalidInstanceID.NotFound" or "InvalidInstanceID.Malformed");

    public static bool IsSessionNotFound(AwsServiceException e) =>
        e.ErrorCode is "InvalidTrafficMirrorSessionId.NotFound" or "InvalidTrafficMirrorSessionID.NotFound";

    public static bool IsInterfaceNotFound(AwsServiceException e) =>
        e.ErrorCode is "InvalidNetworkInterfaceID.NotFound" or "InvalidNetworkInterfaceId.NotFound";

    /// <summary>
    /// AWS refusing the source for its instance type. AWS does not document one code for this, so both the
    /// not-supported codes and a message naming the instance type count.
    /// </summary>
    public static bool IsInstanceTypeRefusal(AwsServiceException e) =>
        e is not ThrottledException and not TransientServiceException
        && (e.ErrorCode.Contains("NotSupported", StringComparison.OrdinalIgnoreCase)
            || e.ErrorCode.Contains("Unsupported", StringComparison.OrdinalIgnoreCase)
            || e.ServiceMessage.Contains("instance type", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Another AutoMirror create won a race since the plan was made: the token was used with other parameters (the
    /// same interface and number under another lab's VNI). A session number taken by someone else is not this: it
    /// fails the step (InvalidParameterValue), Cleanup removes what the execution made, and the next event or
    /// reconcile plans around the number — the Attach workflow's half-made path.
    /// </summary>
    public static bool IsRaceLost(AwsServiceException e) =>
        e is not ThrottledException and not TransientServiceException && e.ErrorCode == "IdempotentParameterMismatch";

    /// <summary>
    /// A create refused with InvalidParameterValue, which is how EC2 refuses a session number already used on the
    /// interface (AWS documents no separate code, and the message is not a contract). A create-first attach takes it
    /// as a possible conflict and lets Verify describe the interface: a truly invalid parameter fails there.
    /// </summary>
    public static bool IsPossibleNumberConflict(AwsServiceException e) =>
        e is not ThrottledException and not TransientServiceException && e.ErrorCode == "InvalidParameterValue";

    /// <summary>
    /// The interface target already has as many sources as AWS allows (10, or 100 for a few large sensor types):
    /// another create took the last place since we counted. The instance waits; it is not a failure.
    /// </summary>
    public static bool IsTargetSourceLimit(AwsServiceException e) =>
        e is not ThrottledException and not TransientServiceException
        && e.ErrorCode == "TrafficMirrorSourcesPerTargetLimitExceeded";

    /// <summary>The interface already holds 3 sessions (someone created one since we looked).</summary>
    public static bool IsSessionLimit(AwsServiceException e) =>
        e is not ThrottledException and not TransientServiceException
        && e.ErrorCode == "TrafficMirrorSessionsPerInterfaceLimitExceeded";
}
