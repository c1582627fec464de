using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Aws.StepFunctions;

namespace AutoMirror.Functions.Handlers;

/// <summary>The one place the real AWS clients are constructed (region, credentials and endpoints from the environment).</summary>
internal sealed record AwsAdapters(IEc2Client Ec2, ILoadBalancingClient LoadBalancing, IStepFunctionsClient StepFunctions)
{
    public static AwsAdapters FromEnvironment() =>
        throw new NotSupportedException("the AutoMirror.Aws clients are not merged into this branch yet");
}
