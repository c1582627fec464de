using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Aws.StepFunctions;

namespace AutoMirror.Aws;

/// <summary>
/// The four clients over one shared pipeline (one connection pool, one retry loop, one set of EC2 rate buckets). Create one per process:
/// the client-side buckets only protect the account if every caller in the process draws from the same ones.
/// </summary>
public sealed class AwsClients : IDisposable
{
    private readonly AwsPipeline _pipeline;
    private readonly Ec2Client _ec2;

    public AwsClients(AwsClientOptions options)
    {
        _pipeline = new AwsPipeline(options);
        _ec2 = new Ec2Client(_pipeline, options.ClientSideRateLimit ? new Ec2RateLimits(options.TimeProvider, options.AdaptiveCreateRate) : null);
        LoadBalancing = new LoadBalancingClient(_pipeline);
        StepFunctions = new StepFunctionsClient(_pipeline);
        CloudWatch = new CloudWatchClient(_pipeline);
    }

    public AwsClientOptions Options => _pipeline.Options;

    public IEc2Client Ec2 => _ec2;

    public ILoadBalancingClient LoadBalancing { get; }

    public IStepFunctionsClient StepFunctions { get; }

    public ICloudWatchClient CloudWatch { get; }

    /// <summary>Region, credentials and endpoints from the environment, as every AWS SDK reads them.</summary>
    public static AwsClients FromEnvironment() => new(AwsClientOptions.FromEnvironment());

    public void Dispose()
    {
        _ec2.Dispose();
        _pipeline.Dispose();
    }
}
