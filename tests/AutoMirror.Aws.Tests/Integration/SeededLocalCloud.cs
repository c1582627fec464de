using System.Diagnostics;
using System.Text.Json;
using Amazon.Runtime;
using AutoMirror.Testing;

namespace AutoMirror.Aws.Tests.Integration;

/// <summary>A local cloud seeded by seed_localcloud.py, and clients configured the way users configure them.</summary>
public sealed class SeededLocalCloud : IAsyncLifetime
{
    public LocalCloud Cloud { get; } = new();

    public JsonElement Seed { get; private set; }

    public AwsClients Clients { get; private set; } = null!;

    public string Instance(string role) => Seed.GetProperty("instances").GetProperty(role).GetString()!;

    public string Id(string name) => Seed.GetProperty(name).GetString()!;

    public async Task InitializeAsync()
    {
        await Cloud.InitializeAsync();
        var script = Path.Combine(AppContext.BaseDirectory, "Integration", "seed_localcloud.py");
        var start = new ProcessStartInfo("python3", [script, Cloud.Endpoint.ToString()]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("seeding the local cloud failed: " + await errors);
        }

        Seed = JsonDocument.Parse(await output).RootElement.Clone();
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

    public Task DisposeAsync()
    {
        Clients?.Dispose();
        Cloud.Dispose();
        return Task.CompletedTask;
    }
}
