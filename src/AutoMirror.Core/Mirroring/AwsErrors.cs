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

    /// <summary>The interface already holds 3 sessions (someone created one since we looked).</summary>
    public static bool IsSessionLimit(AwsServiceException e) =>
        e is not ThrottledException and not TransientServiceException
        && e.ErrorCode == "TrafficMirrorSessionsPerInterfaceLimitExceeded";
}
