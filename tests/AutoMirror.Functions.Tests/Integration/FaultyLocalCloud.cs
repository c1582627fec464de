using System.Collections.Concurrent;
using System.Text.Json;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Functions.Configuration;
using AutoMirror.Functions.Handlers;
using AutoMirror.Functions.Mirroring;
using AutoMirror.Functions.Tests.Fakes;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests.Integration;

/// <summary>
/// A seeded local cloud (VPC, sensor NLB with a healthy target, mirror target and filter) that throttles 20% of
/// EC2 and ELB calls, fails 5% with 5xx, and answers InvalidInstanceID.NotFound for 3 s after each launch.
/// </summary>
public sealed class FaultyLocalCloud : IAsyncLifetime
{
    public LocalCloud Cloud { get; } = new();

    public LabDriver Lab { get; private set; } = null!;

    public JsonElement Seed { get; private set; }

    public AwsClients Clients { get; private set; } = null!;

    public string Id(string name) => Seed.GetProperty(name).GetString()!;

    public async Task InitializeAsync()
    {
        await Cloud.InitializeAsync();
        Lab = new LabDriver(Cloud.Endpoint);
        Seed = await Lab.RunAsync("seed");
        await Cloud.SetFixedTargetHealthAsync(Id("targetGroupArn"), "healthy");
        var environment = new Dictionary<string, string>(Cloud.ClientEnvironment);
        Clients = new AwsClients(AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => null, () => new BasicAWSCredentials("test", "test")));
        await Cloud.ConfigureFaultsAsync(new FaultSettings(Seed: 20260101, ThrottleProbability: 0.20, ServerErrorProbability: 0.05, InstanceNotFoundSeconds: 3));
    }

    public AutoMirrorSettings Settings() => AutoMirrorSettings.FromVariables(name => name switch
    {
        "MIRROR_TARGET_ID" => Id("mirrorTargetId"),
        "MIRROR_FILTER_ID" => Id("mirrorFilterId"),
        "SENSOR_TARGET_GROUP_ARN" => Id("targetGroupArn"),
        "SENSOR_SUBNET_IDS" => Id("sensorSubnetId"),
        "VPC_IDS" => Id("vpcId"),
        "ATTACH_STATE_MACHINE_ARN" => "arn:aws:states:us-east-1:123456789012:stateMachine:AutoMirrorAttach",
        _ => null,
    });

    /// <summary>
    /// The functions as deployed, over the real AWS clients; StartExecution runs the Attach workflow in-process
    /// (the emulator) and records how each execution ended, as Step Functions would.
    /// </summary>
    public (FunctionServices Services, FakeStepFunctions StepFunctions, ConcurrentBag<string> Failures) Functions(double workflowTimeScale = 0.25)
    {
        var stepFunctions = new FakeStepFunctions();
        var failures = new ConcurrentBag<string>();
        var services = new FunctionServices(Settings(), Clients.Ec2, Clients.LoadBalancing, stepFunctions, TimeProvider.System, new RecordingLog());
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

    public Task DisposeAsync()
    {
        Clients?.Dispose();
        Cloud.Dispose();
        return Task.CompletedTask;
    }
}
