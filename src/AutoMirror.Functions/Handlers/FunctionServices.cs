using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.LoadBalancing;
using AutoMirror.Aws.StepFunctions;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The composition root of one function container: settings read once, the AWS adapters, the domain services.
/// Handlers' parameterless constructors build it from the environment; tests build it from fakes.
/// </summary>
public sealed class FunctionServices
{
    public FunctionServices(
        AutoMirrorSettings settings,
        IEc2Client ec2,
        ILoadBalancingClient loadBalancing,
        IStepFunctionsClient stepFunctions,
        TimeProvider time,
        IDecisionLog log,
        IReadOnlyList<TimeSpan>? notFoundBackoff = null)
    {
        Settings = settings;
        Reconciler = new Reconciler(ec2, loadBalancing, settings, time, log, notFoundBackoff);
        EventRouter = new EventRouter(Reconciler, stepFunctions, log);
        Log = log;
    }

    public AutoMirrorSettings Settings { get; }

    public Reconciler Reconciler { get; }

    public EventRouter EventRouter { get; }

    public IDecisionLog Log { get; }

    /// <summary>Settings and real AWS clients from the Lambda environment; fails with the variable's name.</summary>
    public static FunctionServices FromEnvironment()
    {
        var settings = AutoMirrorSettings.FromEnvironment();
        var clients = AwsAdapters.FromEnvironment();
        return new FunctionServices(settings, clients.Ec2, clients.LoadBalancing, clients.StepFunctions, TimeProvider.System, JsonLinesDecisionLog.Console);
    }
}
