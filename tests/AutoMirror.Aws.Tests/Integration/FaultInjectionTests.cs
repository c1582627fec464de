using AutoMirror.Aws.Ec2;
using System.Diagnostics;
using AutoMirror.Testing;
using Xunit.Abstractions;

namespace AutoMirror.Aws.Tests.Integration;

/// <summary>
/// Runs alone: the burst test measures real-time token buckets on both sides, and local clouds started by tests
/// running beside it would starve the server's process, bunching arrivals into a throttle EC2 would not see.
/// </summary>
[CollectionDefinition(nameof(RealTimeBuckets), DisableParallelization = true)]
public sealed class RealTimeBuckets;

/// <summary>The retry and rate-limit behaviour against the local cloud's injected throttling and 5xx answers.</summary>
[Trait("Category", "Integration")]
[Collection(nameof(RealTimeBuckets))]
public sealed class FaultInjectionTests(LocalCloud cloud, ITestOutputHelper output) : IClassFixture<LocalCloud>, IAsyncLifetime
{
    private static readonly RetryPolicy QuickRetry = new()
    {
        MaxAttempts = 4,
        BaseDelay = TimeSpan.FromMilliseconds(5),
        ThrottlingBaseDelay = TimeSpan.FromMilliseconds(20),
        MaxDelay = TimeSpan.FromMilliseconds(200),
    };

    public Task InitializeAsync() => cloud.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private AwsClients Clients(bool clientSideRateLimit = true, RetryPolicy? retry = null)
    {
        var environment = new Dictionary<string, string>(cloud.ClientEnvironment);
        var options = AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => null,
            () => new Amazon.Runtime.BasicAWSCredentials("testing", "testing"));
        return new AwsClients(options with { Retry = retry ?? QuickRetry, ClientSideRateLimit = clientSideRateLimit });
    }

    [Fact]
    public async Task InjectedThrottling_IsRetried_UntilTheCallSucceeds()
    {
        using var clients = Clients();
        await cloud.ScriptErrorsAsync("DescribeTrafficMirrorSessions", ["RequestLimitExceeded", "RequestLimitExceeded"]);

        var sessions = await clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);

        Assert.Empty(sessions);
        Assert.Equal(3, (await cloud.GetCallCountsAsync()).For("ec2", "DescribeTrafficMirrorSessions"));
    }

    [Fact]
    public async Task InjectedServerErrors_AreRetried_UntilTheCallSucceeds()
    {
        using var clients = Clients();
        await cloud.ScriptErrorsAsync("DescribeTargetHealth", ["InternalError", "ServiceUnavailable"]);

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => clients.LoadBalancing.DescribeTargetHealthAsync(
            $"arn:aws:elasticloadbalancing:{LocalCloud.Region}:{LocalCloud.AccountId}:targetgroup/none/0123456789abcdef", CancellationToken.None));

        // Two 5xx answers were retried; the third attempt reached the real handler, which does not know the group.
        Assert.Equal("TargetGroupNotFound", error.ErrorCode);
        Assert.Equal(3, (await cloud.GetCallCountsAsync()).For("elasticloadbalancing", "DescribeTargetHealth"));
    }

    [Fact]
    public async Task ThrottlingThatOutlastsTheRetries_RaisesThrottledException_WithCodeAndRequestId()
    {
        using var clients = Clients();
        await cloud.ScriptErrorsAsync("DescribeInstances", Enumerable.Repeat("RequestLimitExceeded", 10));

        var error = await Assert.ThrowsAsync<ThrottledException>(() =>
            clients.Ec2.DescribeInstancesAsync([new Ec2Filter("instance-state-name", "running")], CancellationToken.None));

        Assert.Equal("RequestLimitExceeded", error.ErrorCode);
        Assert.False(string.IsNullOrEmpty(error.RequestId));
        Assert.Equal(QuickRetry.MaxAttempts, (await cloud.GetCallCountsAsync()).For("ec2", "DescribeInstances"));
    }

    [Fact]
    public async Task ServerErrorsThatOutlastTheRetries_RaiseTransientServiceException()
    {
        using var clients = Clients();
        await cloud.ScriptErrorsAsync("DescribeTrafficMirrorTargets", Enumerable.Repeat("Unavailable", 10));

        var error = await Assert.ThrowsAsync<TransientServiceException>(() =>
            clients.Ec2.DescribeTrafficMirrorTargetsAsync([], CancellationToken.None));

        Assert.Equal("Unavailable", error.ErrorCode);
        Assert.Equal(QuickRetry.MaxAttempts, (await cloud.GetCallCountsAsync()).For("ec2", "DescribeTrafficMirrorTargets"));
    }

    [Fact]
    public async Task ClientSideBuckets_KeepABurstUnderEc2sThrottle_WhileWithoutThemTheServerThrottles()
    {
        // The server enforces EC2's own bucket for Describe* (100 burst, 20/s) in real time.
        const int burst = 150;
        await cloud.ConfigureThrottlingAsync(new ThrottlingSettings(Enabled: true, TimeScale: 1));
        var clock = new Stopwatch();
        using (var limited = Clients(clientSideRateLimit: true))
        {
            // The server makes its bucket on an action's first call; on AWS it exists long before this process starts.
            await limited.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            await cloud.ResetCallCountsAsync();

            clock.Start();
            await Task.WhenAll(Enumerable.Range(0, burst).Select(_ => limited.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None)));
            clock.Stop();
        }

        var withBuckets = await cloud.GetCallCountsAsync();
        var throttledWithBuckets = withBuckets.Throttled.Values.SelectMany(a => a.Values).Sum();

        // Without the client's buckets, and without retries to hide it, the same burst runs into RequestLimitExceeded.
        await cloud.ResetAsync();
        await cloud.ConfigureThrottlingAsync(new ThrottlingSettings(Enabled: true, TimeScale: 1));
        var unlimitedClock = Stopwatch.StartNew();
        using var unlimited = Clients(clientSideRateLimit: false, QuickRetry with { MaxAttempts = 1 });
        var outcomes = await Task.WhenAll(Enumerable.Range(0, burst).Select(async _ =>
        {
            try
            {
                await unlimited.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);
                return null;
            }
            catch (ThrottledException e)
            {
                return e.ErrorCode;
            }
        }));

        var refused = outcomes.Count(code => code == "RequestLimitExceeded");
        output.WriteLine($"{burst} concurrent DescribeTrafficMirrorSessions: with client buckets {clock.Elapsed.TotalSeconds:0.00} s, " +
            $"{throttledWithBuckets} throttled; without, {unlimitedClock.Elapsed.TotalSeconds:0.00} s and {refused} refused with RequestLimitExceeded");

        // Every call succeeded (any throttling would have had to be retried away), and the server throttled at most
        // a few calls: it admits a request one network and processing delay after it left the client's bucket, and
        // on a loaded machine that lag can outrun the client's 10% burst headroom. Without buckets it is dozens.
        Assert.Equal(burst, withBuckets.For("ec2", "DescribeTrafficMirrorSessions") - throttledWithBuckets);
        Assert.InRange(throttledWithBuckets, 0, 5);
        Assert.InRange(refused, 10, burst);
        Assert.Equal(refused, (await cloud.GetCallCountsAsync()).Throttled["ec2"]["DescribeTrafficMirrorSessions"]);
    }
}
