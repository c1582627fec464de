using System.Diagnostics;
using System.Text.Json;
using Amazon.Runtime;
using AutoMirror.Testing;

namespace AutoMirror.Aws.Tests.Integration;

/// <summary>
/// A local cloud with template.yaml deployed in it (the stack's load balancer, target group, listener, mirror target
/// and filter, state machines and sensor), the instances and metric seed_localcloud.py adds beside it, and clients
/// configured the way users configure them.
/// </summary>
public sealed class SeededLocalCloud : IAsyncLifetime
{
    public LocalCloud Cloud { get; } = new();

    private readonly Dictionary<string, string> _ids = [];
    private readonly Dictionary<string, string> _instances = [];

    public DeployedStack Stack { get; private set; } = null!;

    public AwsClients Clients { get; private set; } = null!;

    public string Instance(string role) => _instances[role];

    public string Id(string name) => _ids[name];

    public async Task InitializeAsync()
    {
        await Cloud.InitializeAsync();
        Stack = await DeployedStack.DeployAsync(Cloud);
        _ids["vpcId"] = Stack.VpcId;
        _ids["subnetId"] = Stack.WorkloadSubnetIds[0];
        _ids["loadBalancerArn"] = Stack.LoadBalancerArn;
        _ids["targetGroupArn"] = Stack.TargetGroupArn;
        _ids["listenerArn"] = Stack.Physical("SensorListener");
        _ids["mirrorTargetId"] = Stack.MirrorTargetId;
        _ids["mirrorFilterId"] = Stack.MirrorFilterId;
        _ids["stateMachineArn"] = Stack.AttachStateMachineArn;
        _instances["sensor"] = (string)Stack.Document["sensorInstanceIds"]![0]!;

        var script = Path.Combine(AppContext.BaseDirectory, "Integration", "seed_localcloud.py");
        var start = new ProcessStartInfo("python3", [script, Cloud.Endpoint.ToString(), _ids["subnetId"]]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("seeding the local cloud failed: " + await errors);
        }

        using (var seeded = JsonDocument.Parse(await output))
        {
            foreach (var instance in seeded.RootElement.GetProperty("instances").EnumerateObject())
            {
                _instances[instance.Name] = instance.Value.GetString()!;
            }

            _ids["mirroredEni"] = seeded.RootElement.GetProperty("mirroredEni").GetString()!;
            _ids["metricTime"] = seeded.RootElement.GetProperty("metricTime").GetString()!;
        }

        Clients = CreateClients(new Dictionary<string, string>
        {
            ["AWS_REGION"] = "us-east-1",
            ["AWS_ENDPOINT_URL"] = Cloud.Endpoint.ToString(),
        });
    }

    public AwsClients CreateClients(Dictionary<string, string> environment, Func<AwsClientOptions, AwsClientOptions>? adjust = null)
    {
        var options = AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => null, () => new BasicAWSCredentials("test", "test"));
        return new AwsClients(adjust is null ? options : adjust(options));
    }

    public async Task DisposeAsync()
    {
        Clients?.Dispose();
        if (Stack is not null)
        {
            await Stack.DisposeAsync();
        }

        Cloud.Dispose();
    }
}
