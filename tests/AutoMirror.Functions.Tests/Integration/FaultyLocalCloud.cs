using AutoMirror.Testing.Fakes;
using AutoMirror.Core.Composition;
using System.Collections.Concurrent;
using System.Text.Json;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;
using AutoMirror.Functions.Handlers;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests.Integration;

/// <summary>
/// template.yaml deployed into a local cloud (its sensor NLB with a healthy target, mirror target and filter), plus
/// another team's mirror target, that then throttles 20% of EC2 and ELB calls, fails 5% with 5xx, and answers
/// InvalidInstanceID.NotFound for 3 s after each launch. The functions run with the environment the stack gave them.
/// </summary>
public sealed class FaultyLocalCloud : IAsyncLifetime
{
    public LocalCloud Cloud { get; } = new();

    public LabDriver Lab { get; private set; } = null!;

    public DeployedStack Stack { get; private set; } = null!;

    public AwsClients Clients { get; private set; } = null!;

    /// <summary>The clients the reconcile function builds (ReconcileHandler): its create rate does not adapt.</summary>
    public AwsClients ReconcileClients { get; private set; } = null!;

    private readonly Dictionary<string, string> _ids = [];

    public string Id(string name) => _ids[name];

    public async Task InitializeAsync()
    {
        await Cloud.InitializeAsync();
        Lab = new LabDriver(Cloud.Endpoint);
        Stack = await DeployedStack.DeployAsync(Cloud);
        var sensor = (string)Stack.Document["sensorInstanceIds"]![0]!;
        _ids["mirrorTargetId"] = Stack.MirrorTargetId;
        _ids["mirrorFilterId"] = Stack.MirrorFilterId;
        _ids["targetGroupArn"] = Stack.TargetGroupArn;
        _ids["subnetId"] = Stack.WorkloadSubnetIds[0];
        _ids["sensorInstanceId"] = sensor;
        _ids["foreignTargetId"] = (await Lab.RunAsync("foreign-target", Stack.SensorSubnetIds[0])).GetProperty("foreignTargetId").GetString()!;
        // A sensor carrying the opt-in tag (a user's slip) must still never be mirrored: it is in a sensor subnet.
        await Lab.RunAsync("tag", "automirror", "true", sensor);
        await Cloud.SetFixedTargetHealthAsync(Id("targetGroupArn"), "healthy");
        var environment = new Dictionary<string, string>(Cloud.ClientEnvironment);
        var options = AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => null, () => new BasicAWSCredentials("test", "test"));
        Clients = new AwsClients(options);
        ReconcileClients = new AwsClients(options with { AdaptiveCreateRate = false });
        await Cloud.ConfigureFaultsAsync(new FaultSettings(Seed: 20260101, ThrottleProbability: 0.20, ServerErrorProbability: 0.05, InstanceNotFoundSeconds: 3));
    }

    /// <summary>Exactly the environment the stack gave the event function (empty values count as unset there).</summary>
    public AutoMirrorSettings Settings()
    {
        var environment = Stack.FunctionEnvironment("EventFunction");
        return AutoMirrorSettings.FromVariables(name => environment.GetValueOrDefault(name));
    }

    /// <summary>
    /// The functions as deployed, over the real AWS clients; StartExecution runs the Attach workflow in-process
    /// (the emulator) and records how each execution ended, as Step Functions would.
    /// </summary>
    public (AutoMirrorServices Services, FakeStepFunctions StepFunctions, ConcurrentBag<string> Failures) Functions(double workflowTimeScale = 0.25)
    {
        var stepFunctions = new FakeStepFunctions();
        var failures = new ConcurrentBag<string>();
        var services = new AutoMirrorServices(Settings(), Clients.Ec2, Clients.LoadBalancing, stepFunctions, TimeProvider.System, new RecordingLog());
        var workflow = new AttachWorkflowEmulator(new AttachSteps(services), workflowTimeScale);
        stepFunctions.Runner = async input =>
        {
            try
            {
                await workflow.RunAsync(input);
            }
            catch (Exception e)
            {
                failures.Add(e.GetType().Name + ": " + e.Message);
            }
        };
        return (services, stepFunctions, failures);
    }

    /// <summary>The reconcile function as deployed: its own container, so its own clients (see <see cref="ReconcileClients"/>).</summary>
    public AutoMirrorServices ReconcileFunction() =>
        new(Settings(), ReconcileClients.Ec2, ReconcileClients.LoadBalancing, new FakeStepFunctions(), TimeProvider.System, new RecordingLog());

    /// <summary>Reads all sessions, retrying what the injected faults make the client give up on.</summary>
    public async Task<IReadOnlyList<TrafficMirrorSession>> SessionsAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Clients.Ec2.DescribeTrafficMirrorSessionsAsync([], default);
            }
            catch (AwsServiceException) when (attempt < 10)
            {
                await Task.Delay(200);
            }
        }
    }

    public async Task DisposeAsync()
    {
        Clients?.Dispose();
        ReconcileClients?.Dispose();
        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }

        Cloud.Dispose();
    }
}
