using System.Diagnostics;
using System.Text.Json;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Ownership;
using AutoMirror.Functions.Handlers;
using AutoMirror.Testing;
using AutoMirror.Testing.Fakes;

namespace AutoMirror.Functions.Tests.Integration;

/// <summary>
/// The functions deployed in a source account, mirroring to a target a security account owns (issue #17): the real
/// handler and AWS clients with the source account's credentials, MIRROR_TARGET_ID the other account's target and
/// MIRROR_FILTER_ID the source account's own filter. The local cloud enforces AWS's rule: the target is usable (and
/// visible) only once its owner shares it with the source account through AWS RAM.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CrossAccountFunctionTests(LocalCloud cloud) : IClassFixture<LocalCloud>
{
    private static readonly string Script = Path.Combine(RepositoryRoot.Path, "tests", "AutoMirror.Functions.Tests", "Integration", "cross_account.py");

    [Fact]
    public async Task SharedTarget_SourceAccountsReconcile_MirrorsItsInstanceToTheOtherAccountsTarget()
    {
        var seed = await SeedAsync("222222222222", "share");
        using var clients = ClientsOf(seed);

        var report = JsonDocument.Parse(await Fakes.TestWorld.InvokeAsync(new ReconcileHandler(Services(seed, clients)).HandleAsync, Request(seed))).RootElement;

        Assert.Equal(1, report.GetProperty("mirrored").GetInt32());
        var session = Assert.Single(await clients.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", seed.InterfaceId)], CancellationToken.None));
        Assert.Equal(seed.TargetId, session.TrafficMirrorTargetId);
        Assert.Equal(seed.FilterId, session.TrafficMirrorFilterId);
        Assert.True(SessionTags.IsOurs(session, seed.TargetId));
        Assert.NotEqual("222222222222", seed.TargetOwner);
    }

    [Fact]
    public async Task UnsharedTarget_SourceAccountsReconcile_FailsNamingTheTarget_AndMakesNoSession()
    {
        var seed = await SeedAsync("444444444444", "no-share");
        using var clients = ClientsOf(seed);

        var error = await Assert.ThrowsAsync<ConfigurationException>(() => Fakes.TestWorld.InvokeAsync(new ReconcileHandler(Services(seed, clients)).HandleAsync, Request(seed)));

        Assert.Contains(seed.TargetId, error.Message, StringComparison.Ordinal);
        Assert.Contains("AWS RAM", error.Message, StringComparison.Ordinal);
        Assert.Empty(await clients.Ec2.DescribeTrafficMirrorSessionsAsync([new Ec2Filter("network-interface-id", seed.InterfaceId)], CancellationToken.None));
    }

    private static string Request(Seed seed) => "{\"instanceIds\":[\"" + seed.InstanceId + "\"]}";

    private static AutoMirrorServices Services(Seed seed, AwsClients clients)
    {
        var settings = AutoMirrorSettings.FromVariables(name => name switch
        {
            "MIRROR_TARGET_ID" => seed.TargetId,
            "MIRROR_FILTER_ID" => seed.FilterId,
            "VPC_IDS" => seed.VpcId,
            _ => null,
        });
        return new AutoMirrorServices(settings, clients.Ec2, clients.LoadBalancing, new FakeStepFunctions(), TimeProvider.System, new RecordingLog());
    }

    private AwsClients ClientsOf(Seed seed)
    {
        var environment = new Dictionary<string, string>(cloud.ClientEnvironment);
        return new AwsClients(AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => null,
            () => new SessionAWSCredentials(seed.AccessKeyId, seed.SecretAccessKey, seed.SessionToken)));
    }

    private async Task<Seed> SeedAsync(string sourceAccount, string mode)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Script, cloud.Endpoint.ToString().TrimEnd('/'), sourceAccount, mode })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0
            ? JsonSerializer.Deserialize<Seed>(await output, new JsonSerializerOptions(JsonSerializerDefaults.Web))!
            : throw new InvalidOperationException("cross_account.py failed: " + await errors);
    }

    private sealed record Seed(string TargetId, string TargetOwner, string FilterId, string VpcId, string InstanceId, string InterfaceId,
        string AccessKeyId, string SecretAccessKey, string SessionToken);
}
