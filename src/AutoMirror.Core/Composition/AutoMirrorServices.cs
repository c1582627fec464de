using AutoMirror.Aws;
using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Aws.StepFunctions;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Core.Composition;

/// <summary>
/// The one composition root: settings read once, the AWS ports, the clock, the logs, and the domain services built
/// on them. The functions build it from the environment once per container (a handler's parameterless constructor),
/// the CLI from its options, the tests and benches from fakes or the local cloud.
/// </summary>
public sealed class AutoMirrorServices
{
    private readonly Lazy<TeardownService> _teardown;

    public AutoMirrorServices(
        AutoMirrorSettings settings,
        IEc2Client ec2,
        ILoadBalancingClient loadBalancing,
        IStepFunctionsClient stepFunctions,
        TimeProvider time,
        IDecisionLog log,
        IReadOnlyList<TimeSpan>? notFoundBackoff = null,
        ICloudWatchClient? cloudWatch = null,
        TeardownLog? teardownLog = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        Log = log;
        Reconciler = new Reconciler(ec2, loadBalancing, settings, time, log, notFoundBackoff);
        EventRouter = new EventRouter(Reconciler, stepFunctions, log);
        TeardownLog = teardownLog ?? TeardownLog.Console;
        // Lazy: only the teardown needs CloudWatch and a valid TEARDOWN_ACTION, so the attach functions neither
        // build nor validate them.
        _teardown = new Lazy<TeardownService>(() => new TeardownService(
            ec2,
            cloudWatch ?? throw new InvalidOperationException("the teardown needs a CloudWatch client"),
            stepFunctions,
            time,
            TeardownSettings.From(settings)));
    }

    public AutoMirrorSettings Settings { get; }

    public Reconciler Reconciler { get; }

    public EventRouter EventRouter { get; }

    public TeardownService Teardown => _teardown.Value;

    public IDecisionLog Log { get; }

    public TeardownLog TeardownLog { get; }

    /// <summary>Settings and real AWS clients from the Lambda environment; fails with the variable's name.</summary>
    /// <param name="adaptiveCreateRate">See <see cref="AwsClientOptions.AdaptiveCreateRate"/>: off for the scheduled reconcile.</param>
    public static AutoMirrorServices FromEnvironment(bool adaptiveCreateRate = true)
    {
        var settings = AutoMirrorSettings.FromEnvironment();
        var clients = new AwsClients(AwsClientOptions.FromEnvironment() with { AdaptiveCreateRate = adaptiveCreateRate });
        return new AutoMirrorServices(settings, clients.Ec2, clients.LoadBalancing, clients.StepFunctions, TimeProvider.System,
            JsonLinesDecisionLog.Console, cloudWatch: clients.CloudWatch);
    }
}
