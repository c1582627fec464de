using AutoMirror.Core.Mirroring;
using AutoMirror.Core.Ownership;
using AutoMirror.Functions.Tests.Fakes;
using AutoMirror.Testing.Fakes;

namespace AutoMirror.Functions.Tests;

public class StatusTagBatchTests
{
    private static readonly Dictionary<string, string> Tagged = new() { ["automirror"] = "true" };

    [Fact]
    public async Task FullBatch_IsWrittenInOneCreateTagsPerValue()
    {
        var world = new TestWorld();
        var ids = Enumerable.Range(0, 5).Select(_ => world.Ec2.Launch(Tagged)).ToList();
        using var batch = new StatusTagBatch(world.Ec2, new ManualTimeProvider(), world.Log, TimeSpan.FromSeconds(30), maxBatch: 5);

        foreach (var id in ids.Take(4))
        {
            await batch.AddAsync(id, MirrorStatus.Mirrored, default);
        }

        Assert.Equal(0, world.Ec2.Calls.GetValueOrDefault("CreateTags"));
        await batch.AddAsync(ids[4], MirrorStatus.SessionLimit, default);

        Assert.Equal(2, world.Ec2.Calls.GetValueOrDefault("CreateTags"));
        Assert.All(ids.Take(4), id => Assert.Equal("mirrored", world.Ec2.TagsOf(id)[SessionTags.Status]));
        Assert.Equal("session-limit", world.Ec2.TagsOf(ids[4])[SessionTags.Status]);
        Assert.Equal(0, batch.Pending);
    }

    [Fact]
    public async Task PendingVerdict_IsWrittenWhenItsMaxDelayHasPassed()
    {
        var world = new TestWorld();
        var id = world.Ec2.Launch(Tagged);
        var time = new ManualTimeProvider();
        using var batch = new StatusTagBatch(world.Ec2, time, world.Log, TimeSpan.FromSeconds(30));

        await batch.AddAsync(id, MirrorStatus.Mirrored, default);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(world.Ec2.TagsOf(id).ContainsKey(SessionTags.Status));
        time.Advance(TimeSpan.FromSeconds(1));

        await WaitUntilAsync(() => world.Ec2.TagsOf(id).ContainsKey(SessionTags.Status));
        Assert.Equal("mirrored", world.Ec2.TagsOf(id)[SessionTags.Status]);
        Assert.Equal(1, world.Ec2.Calls.GetValueOrDefault("CreateTags"));
    }

    [Fact]
    public async Task InstanceGoneMeanwhile_DoesNotKeepTheOthersUntagged()
    {
        var world = new TestWorld();
        var kept = world.Ec2.Launch(Tagged);
        using var batch = new StatusTagBatch(world.Ec2, new ManualTimeProvider(), world.Log, TimeSpan.FromSeconds(30), maxBatch: 2);

        await batch.AddAsync("i-0000000000000dead", MirrorStatus.Mirrored, default);
        await batch.AddAsync(kept, MirrorStatus.Mirrored, default);

        Assert.Equal("mirrored", world.Ec2.TagsOf(kept)[SessionTags.Status]);
        Assert.Contains(world.Log.Decisions, d => d.Action == "status-tag" && d.InstanceId == "i-0000000000000dead" && d.Reason == "instance-gone");
        Assert.Equal(0, batch.Pending);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
