using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Aws.StepFunctions;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The one place the real AWS clients are constructed (region, credentials and endpoints from the environment).
/// One set per container: the clients share one HttpClient and the client-side EC2 rate buckets, which only
/// protect the account if every call in the process draws from them; the container's lifetime is theirs.
/// </summary>
internal sealed record AwsAdapters(IEc2Client Ec2, ILoadBalancingClient LoadBalancing, IStepFunctionsClient StepFunctions)
{
    public static AwsAdapters FromEnvironment()
    {
        var clients = AwsClients.FromEnvironment();
        return new AwsAdapters(clients.Ec2, clients.LoadBalancing, clients.StepFunctions);
    }
}
