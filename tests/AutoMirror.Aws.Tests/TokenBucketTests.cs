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

    [Fact]
    public void Ec2Buckets_MatchTheDocumentedSizes()
    {
        var limits = new Ec2RateLimits(new ManualTimeProvider());

        Assert.Equal((100, 20.0), (limits.For("DescribeInstances").Capacity, limits.For("DescribeInstances").RefillPerSecond));
        Assert.Equal((50, 5.0), (limits.For("CreateTrafficMirrorSession").Capacity, limits.For("CreateTrafficMirrorSession").RefillPerSecond));
        Assert.Equal((50, 5.0), (limits.For("TerminateInstances").Capacity, limits.For("TerminateInstances").RefillPerSecond));
        Assert.Equal((100, 10.0), (limits.For("CreateTags").Capacity, limits.For("CreateTags").RefillPerSecond));
        Assert.Equal((100, 10.0), (limits.For("DeleteTags").Capacity, limits.For("DeleteTags").RefillPerSecond));

        // Each action has its own bucket, as EC2 counts them.
        Assert.NotSame(limits.For("DescribeInstances"), limits.For("DescribeNetworkInterfaces"));
        Assert.Same(limits.For("DescribeInstances"), limits.For("DescribeInstances"));
    }

    [Fact]
    public async Task Ec2Client_BurstBeyondTheBucket_WaitsInsteadOfSending()
    {
        var time = new ManualTimeProvider();
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml(EmptySessions));
        using var clients = new AwsClients(TestClients.Options(handler, time));

        var calls = Enumerable.Range(0, 103).Select(_ => clients.Ec2.DescribeTrafficMirrorSessionsAsync([], CancellationToken.None)).ToList();
        await RetryTests.WaitUntil(() => handler.Count == 100);
        await Task.Delay(100);
        Assert.Equal(100, handler.Count);

        // 20 tokens a second: the next three requests go out over the next 150 ms, not before.
        time.Advance(TimeSpan.FromMilliseconds(50));
        await RetryTests.WaitUntil(() => handler.Count >= 101);
        time.Advance(TimeSpan.FromMilliseconds(100));
        await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(103, handler.Count);
    }

    [Fact]
    public async Task Ec2Client_MutatingCalls_DrawFromTheirOwnSmallerBucket()
    {
        var time = new ManualTimeProvider();
        var handler = new RecordingHandler((_, _) =>
            RecordingHandler.Xml("<DeleteTrafficMirrorSessionResponse><trafficMirrorSessionId>tms-1</trafficMirrorSessionId></DeleteTrafficMirrorSessionResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler, time));

        var calls = Enumerable.Range(0, 51).Select(i => clients.Ec2.DeleteTrafficMirrorSessionAsync($"tms-{i}", CancellationToken.None)).ToList();
        await RetryTests.WaitUntil(() => handler.Count == 50);
        await Task.Delay(100);
        Assert.Equal(50, handler.Count);

        time.Advance(TimeSpan.FromMilliseconds(200));
        await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(51, handler.Count);
    }
}
