using AutoMirror.Testing.Fakes;
using System.Net;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.Tests.Support;
using FsCheck;
using FsCheck.Fluent;

namespace AutoMirror.Aws.Tests;

public sealed class RetryTests
{
    private const string EmptySessions =
        "<DescribeTrafficMirrorSessionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>ok</requestId><trafficMirrorSessionSet/></DescribeTrafficMirrorSessionsResponse>";

    private static readonly RetryPolicy FourAttempts = new()
    {
        MaxAttempts = 4,
        BaseDelay = TimeSpan.FromMilliseconds(100),
        ThrottlingBaseDelay = TimeSpan.FromMilliseconds(400),
        MaxDelay = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task Throttling_ThenSuccess_RetriesAndReturnsTheAnswer()
    {
        var handler = new RecordingHandler((_, n) => n <= 2
            ? RecordingHandler.Ec2Error("RequestLimitExceeded", "Request limit exceeded.", $"req-{n}", HttpStatusCode.ServiceUnavailable)
            : RecordingHandler.Xml(EmptySessions));
        var time = new ManualTimeProvider { AutoAdvance = true };
        // The retry policy alone: the client-side bucket also slows down after a throttle (TokenBucketTests), and its
        // waits would mix with the backoff's in RequestedDelays.
        using var clients = new AwsClients(TestClients.Options(handler, time, FourAttempts, () => 1.0) with { ClientSideRateLimit = false });

        var sessions = await clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);

        Assert.Empty(sessions);
        Assert.Equal(3, handler.Count);

        // Throttling backs off from its own base, doubling: 400 ms then 800 ms (jitter at its maximum).
        Assert.Equal([TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(800)], time.RequestedDelays);
    }

    [Fact]
    public async Task ServerError_ThenSuccess_Retries()
    {
        var handler = new RecordingHandler((_, n) => n == 1
            ? RecordingHandler.Ec2Error("InternalError", "An internal error has occurred", "req-1", HttpStatusCode.InternalServerError)
            : RecordingHandler.Xml(EmptySessions));
        var time = new ManualTimeProvider { AutoAdvance = true };
        using var clients = new AwsClients(TestClients.Options(handler, time, FourAttempts, () => 1.0));

        await clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);

        Assert.Equal(2, handler.Count);
        Assert.Equal([TimeSpan.FromMilliseconds(100)], time.RequestedDelays);
    }

    [Fact]
    public async Task ServerErrorWithoutXml_IsRetriedAsTransient()
    {
        var handler = new RecordingHandler((_, n) => n == 1
            ? new HttpResponseMessage(HttpStatusCode.BadGateway) { Content = new StringContent("<html>bad gateway</html>") }
            : RecordingHandler.Xml(EmptySessions));
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        await clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);

        Assert.Equal(2, handler.Count);
    }

    [Fact]
    public async Task ThrottlingThatNeverStops_RaisesThrottledException_WithCodeAndRequestId_AfterBoundedAttempts()
    {
        var handler = new RecordingHandler((_, n) =>
            RecordingHandler.Ec2Error("RequestLimitExceeded", "Request limit exceeded.", $"req-{n}", HttpStatusCode.ServiceUnavailable));
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        var error = await Assert.ThrowsAsync<ThrottledException>(() => clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None));

        Assert.Equal(4, handler.Count);
        Assert.Equal("RequestLimitExceeded", error.ErrorCode);
        Assert.Equal("Request limit exceeded.", error.ServiceMessage);
        Assert.Equal("req-4", error.RequestId);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
    }

    [Fact]
    public async Task JsonThrottling_RaisesThrottledException_WithTheBareErrorName()
    {
        var handler = new RecordingHandler((_, _) =>
        {
            var response = RecordingHandler.Json("{\"__type\":\"com.amazonaws.swf.service.v2.model#ThrottlingException\",\"message\":\"Rate exceeded\"}", HttpStatusCode.BadRequest);
            response.Headers.Add("x-amzn-RequestId", "sfn-req");
            return response;
        });
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        var error = await Assert.ThrowsAsync<ThrottledException>(() =>
            clients.StepFunctions.StartExecutionAsync("arn:aws:states:us-east-1:123456789012:stateMachine:attach", "evt-1", "{}", CancellationToken.None));

        Assert.Equal("ThrottlingException", error.ErrorCode);
        Assert.Equal("Rate exceeded", error.ServiceMessage);
        Assert.Equal("sfn-req", error.RequestId);
        Assert.Equal(4, handler.Count);
    }

    [Fact]
    public async Task QueryThrottling_FromElb_IsRetriedThenRaised()
    {
        var handler = new RecordingHandler((_, n) => RecordingHandler.QueryError("Throttling", "Rate exceeded", $"elb-{n}", HttpStatusCode.BadRequest));
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        var error = await Assert.ThrowsAsync<ThrottledException>(() =>
            clients.LoadBalancing.DescribeTargetHealthAsync("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s/1", CancellationToken.None));

        Assert.Equal(("Throttling", "elb-4"), (error.ErrorCode, error.RequestId));
    }

    [Fact]
    public async Task ServerErrorsThatNeverStop_RaiseTransientServiceException()
    {
        var handler = new RecordingHandler((_, n) =>
            RecordingHandler.Ec2Error("Unavailable", "The server is overloaded", $"req-{n}", HttpStatusCode.ServiceUnavailable));
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        var error = await Assert.ThrowsAsync<TransientServiceException>(() => clients.Ec2.DeleteTrafficMirrorSessionAsync("tms-1", CancellationToken.None));

        Assert.Equal(("Unavailable", "req-4", 4), (error.ErrorCode, error.RequestId, handler.Count));
    }

    [Fact]
    public async Task ClientError_IsNotRetried_AndKeepsTheServiceCode()
    {
        var handler = new RecordingHandler((_, _) =>
            RecordingHandler.Ec2Error("InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist", "req-nf", HttpStatusCode.BadRequest));
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        var error = await Assert.ThrowsAsync<AwsServiceException>(() => clients.Ec2.DescribeInstancesAsync(["i-1"], CancellationToken.None));

        Assert.Equal(typeof(AwsServiceException), error.GetType());
        Assert.Equal(("InvalidInstanceID.NotFound", "req-nf", HttpStatusCode.BadRequest, 1), (error.ErrorCode, error.RequestId, error.StatusCode, handler.Count));
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ec2ConnectionFailure_ThroughTheSdk_IsRetried_ThenRaisedAsTransient()
    {
        var handler = new RecordingHandler((_, n) => n == 1
            ? throw new HttpRequestException("Connection refused (127.0.0.1:1)")
            : RecordingHandler.Xml(EmptySessions));
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        await clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);
        Assert.Equal(2, handler.Count);

        var failing = new RecordingHandler((_, _) => throw new HttpRequestException("Connection refused (127.0.0.1:1)"));
        using var unreachable = new AwsClients(TestClients.Options(failing, retry: FourAttempts));
        var error = await Assert.ThrowsAsync<TransientServiceException>(() => unreachable.Ec2.DeleteTrafficMirrorSessionAsync("tms-1", CancellationToken.None));

        Assert.Equal(("ConnectionFailure", 4), (error.ErrorCode, failing.Count));
    }

    [Fact]
    public async Task AttemptTimeout_IsRetried_ThenRaisedAsTransient()
    {
        var handler = new RecordingHandler(async (_, _, cancellationToken) =>
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return RecordingHandler.Xml(EmptySessions);
        });
        var retry = FourAttempts with { MaxAttempts = 2, AttemptTimeout = TimeSpan.FromMilliseconds(100) };
        using var clients = new AwsClients(TestClients.Options(handler, retry: retry));

        var error = await Assert.ThrowsAsync<TransientServiceException>(() => clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None));

        Assert.Equal(("RequestTimeout", 2), (error.ErrorCode, handler.Count));
    }

    [Fact]
    public async Task CancellationDuringARequest_Propagates_AndIsNotRetried()
    {
        using var cancel = new CancellationTokenSource();
        var handler = new RecordingHandler(async (_, _, cancellationToken) =>
        {
            await cancel.CancelAsync();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return RecordingHandler.Xml(EmptySessions);
        });
        using var clients = new AwsClients(TestClients.Options(handler, retry: FourAttempts));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => clients.Ec2.DescribeTrafficMirrorSessionsAsync([], cancel.Token));

        Assert.Equal(1, handler.Count);
    }

    [Fact]
    public async Task CancellationDuringBackoff_StopsRetrying()
    {
        using var cancel = new CancellationTokenSource();
        var time = new ManualTimeProvider();
        var handler = new RecordingHandler((_, n) =>
            RecordingHandler.Ec2Error("RequestLimitExceeded", "slow down", $"req-{n}", HttpStatusCode.ServiceUnavailable));
        using var clients = new AwsClients(TestClients.Options(handler, time, FourAttempts));

        var call = clients.Ec2.DescribeTrafficMirrorSessionsAsync([], cancel.Token);
        await WaitUntil(() => time.RequestedDelays.Count == 1);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(1, handler.Count);
    }

    [Fact]
    public void Backoff_GrowsExponentially_UntilTheCap()
    {
        var policy = new RetryPolicy { BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) };

        var ceilings = Enumerable.Range(1, 6).Select(n => policy.Delay(n, throttled: false, jitter: 1.0).TotalMilliseconds).ToList();

        Assert.Equal([100, 200, 400, 800, 1000, 1000], ceilings);
    }

    [Fact]
    public void Backoff_IsJittered_AndNeverExceedsTheCap()
    {
        var policy = RetryPolicy.Default;
        Prop.ForAll(
                Gen.Choose(1, 60).ToArbitrary(),
                Gen.Choose(0, 999).ToArbitrary(),
                ArbMap.Default.GeneratorFor<bool>().ToArbitrary(),
                (attempt, permille, throttled) =>
                {
                    var jitter = permille / 1000.0;
                    var delay = policy.Delay(attempt, throttled, jitter);
                    var ceiling = policy.Delay(attempt, throttled, 1.0);
                    return delay >= TimeSpan.Zero && delay <= policy.MaxDelay && Math.Abs(delay.TotalMilliseconds - (ceiling.TotalMilliseconds * jitter)) < 0.01;
                })
            .Check(Config.QuickThrowOnFailure);
    }

    [Fact]
    public async Task Backoff_UsesTheJitterSource_SoConcurrentCallersSpreadOut()
    {
        var jitters = new Queue<double>([0.1, 0.9]);
        var handler = new RecordingHandler((_, n) => n <= 2
            ? RecordingHandler.Ec2Error("RequestLimitExceeded", "slow down", "r", HttpStatusCode.ServiceUnavailable)
            : RecordingHandler.Xml(EmptySessions));
        var time = new ManualTimeProvider { AutoAdvance = true };
        using var clients = new AwsClients(TestClients.Options(handler, time, FourAttempts, jitters.Dequeue));

        await clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None);

        Assert.Equal([TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(720)], time.RequestedDelays);
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 10 s");
            await Task.Delay(5);
        }
    }
}
