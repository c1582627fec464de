using AutoMirror.Testing.Fakes;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.Tests.Support;

namespace AutoMirror.Aws.Tests;

public sealed class TokenBucketTests
{
    private const string EmptySessions =
        "<DescribeTrafficMirrorSessionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><trafficMirrorSessionSet/></DescribeTrafficMirrorSessionsResponse>";

    [Fact]
    public async Task Bucket_GrantsTheBurst_ThenWaitsForTheRefill()
    {
        var time = new ManualTimeProvider();
        var bucket = new TokenBucket(capacity: 3, refillPerSecond: 2, time);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(bucket.AcquireAsync(CancellationToken.None).AsTask().IsCompletedSuccessfully);
        }

        var fourth = bucket.AcquireAsync(CancellationToken.None).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.False(fourth.IsCompleted);

        time.Advance(TimeSpan.FromMilliseconds(100));
        await fourth.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Bucket_WaitIsCancellable()
    {
        var bucket = new TokenBucket(1, 1, new ManualTimeProvider());
        await bucket.AcquireAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();

        var waiting = bucket.AcquireAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Theory]
    [InlineData("DescribeInstances", 100, 20.0)]
    [InlineData("DescribeTrafficMirrorSessions", 100, 20.0)]
    [InlineData("CreateTrafficMirrorSession", 50, 5.0)]
    [InlineData("DeleteTrafficMirrorSession", 50, 5.0)]
    [InlineData("TerminateInstances", 50, 5.0)]
    [InlineData("CreateTags", 100, 10.0)]
    [InlineData("DeleteTags", 100, 10.0)]
    public void Ec2Buckets_FollowTheDocumentedSizes_WithBurstHeadroom(string action, int documentedBurst, double documentedRefill)
    {
        var bucket = new Ec2RateLimits(new ManualTimeProvider()).For(action);

        Assert.Equal((documentedBurst, documentedRefill), Ec2RateLimits.Documented(action));
        Assert.Equal(documentedRefill, bucket.RefillPerSecond);
        Assert.Equal((int)(documentedBurst * 0.9), bucket.Capacity);
    }

    [Fact]
    public void Ec2Buckets_ArePerAction()
    {
        var limits = new Ec2RateLimits(new ManualTimeProvider());

        Assert.NotSame(limits.For("DescribeInstances"), limits.For("DescribeTrafficMirrorSessions"));
        Assert.Same(limits.For("DescribeInstances"), limits.For("DescribeInstances"));
    }

    [Fact]
    public async Task Ec2Client_BurstBeyondTheBucket_WaitsInsteadOfSending()
    {
        var time = new ManualTimeProvider();
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml(EmptySessions));
        using var clients = new AwsClients(TestClients.Options(handler, time));

        var calls = Enumerable.Range(0, 93).Select(_ => clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None)).ToList();
        await RetryTests.WaitUntil(() => handler.Count == 90);
        await Task.Delay(100);
        Assert.Equal(90, handler.Count);

        // 20 tokens a second: the next three requests go out over the next 150 ms, not before.
        time.Advance(TimeSpan.FromMilliseconds(50));
        await RetryTests.WaitUntil(() => handler.Count >= 91);
        time.Advance(TimeSpan.FromMilliseconds(100));
        await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(93, handler.Count);
    }

    [Fact]
    public async Task Ec2Client_MutatingCalls_DrawFromTheirOwnSmallerBucket()
    {
        var time = new ManualTimeProvider();
        var handler = new RecordingHandler((_, _) =>
            RecordingHandler.Xml("<DeleteTrafficMirrorSessionResponse><trafficMirrorSessionId>tms-1</trafficMirrorSessionId></DeleteTrafficMirrorSessionResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler, time));

        var calls = Enumerable.Range(0, 46).Select(i => clients.Ec2.DeleteTrafficMirrorSessionAsync($"tms-{i}", CancellationToken.None)).ToList();
        await RetryTests.WaitUntil(() => handler.Count == 45);
        await Task.Delay(100);
        Assert.Equal(45, handler.Count);

        time.Advance(TimeSpan.FromMilliseconds(200));
        await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(46, handler.Count);
    }

    [Fact]
    public void Throttle_CutsTheRateOncePerTokenInterval_AndAcceptedCallsGrowItBack()
    {
        var time = new ManualTimeProvider();
        var bucket = new TokenBucket(capacity: 45, refillPerSecond: 5, time, adaptive: true);

        bucket.OnThrottled();
        Assert.Equal(1.25, bucket.CurrentRate, 3);
        // A second concurrent call met the same empty bucket: not a second cut.
        bucket.OnThrottled();
        Assert.Equal(1.25, bucket.CurrentRate, 3);
        time.Advance(TimeSpan.FromSeconds(1));
        bucket.OnThrottled();
        Assert.Equal(0.3125, bucket.CurrentRate, 3);

        for (var i = 0; i < 100; i++)
        {
            bucket.OnAccepted();
        }

        Assert.Equal(0.3125 + (100 * 5 * 0.003), bucket.CurrentRate, 3);
        for (var i = 0; i < 1000; i++)
        {
            bucket.OnAccepted();
        }

        Assert.Equal(5, bucket.CurrentRate, 3);
    }

    [Fact]
    public async Task AfterAThrottle_TheNextCallWaitsAtTheSlowerRate_WithNoBurst()
    {
        var time = new ManualTimeProvider();
        var bucket = new TokenBucket(capacity: 45, refillPerSecond: 5, time, adaptive: true);
        await bucket.AcquireAsync(CancellationToken.None);

        bucket.OnThrottled();
        // Idle long enough to refill the whole burst at full rate: while slowed, only one token builds up.
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(bucket.AcquireAsync(CancellationToken.None).AsTask().IsCompletedSuccessfully);
        var next = bucket.AcquireAsync(CancellationToken.None).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(700));
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(100));
        await next.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void OnlyTheCreateBucket_Adapts_OthersKeepEc2sRate()
    {
        var limits = new Ec2RateLimits(new ManualTimeProvider());

        limits.For("CreateTrafficMirrorSession").OnThrottled();
        limits.For("DeleteTrafficMirrorSession").OnThrottled();
        limits.For("DescribeInstances").OnThrottled();

        Assert.Equal(1.25, limits.For("CreateTrafficMirrorSession").CurrentRate, 3);
        Assert.Equal(5, limits.For("DeleteTrafficMirrorSession").CurrentRate, 3);
        Assert.Equal(20, limits.For("DescribeInstances").CurrentRate, 3);
    }

    [Fact]
    public void AProcessThatRunsAlone_KeepsEc2sCreateRate_WhateverItsThrottles()
    {
        var time = new ManualTimeProvider();
        var limits = new Ec2RateLimits(time, adaptiveCreates: false);

        for (var i = 0; i < 5; i++)
        {
            limits.For("CreateTrafficMirrorSession").OnThrottled();
            time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(5, limits.For("CreateTrafficMirrorSession").CurrentRate, 3);
    }
}
