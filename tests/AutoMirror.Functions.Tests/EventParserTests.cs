using AutoMirror.Core.Events;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests;

public class EventParserTests
{
    public static byte[] Fixture(string name) => File.ReadAllBytes(Path.Combine(RepositoryRoot.Path, "events", name));

    [Theory]
    [InlineData("pending")]
    [InlineData("running")]
    [InlineData("stopping")]
    [InlineData("stopped")]
    [InlineData("shutting-down")]
    [InlineData("terminated")]
    public void Parse_StateChangeFixture_ReadsInstanceAndState(string state)
    {
        var parsed = Assert.IsType<InstanceStateEvent>(MirrorEventParser.Parse(Fixture($"ec2-state-{state}.json")));
        Assert.Equal("i-1234567890abcdef0", parsed.InstanceId);
        Assert.Equal(state, parsed.State);
        Assert.StartsWith("7bf73129-", parsed.EventId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tag-change-v3-mirror-added.json", 3)]
    [InlineData("tag-change-v4-mirror-added.json", 4)]
    public void Parse_TagChangeFixtures_OfBothVersions_ReadTheSameFields(string file, int version)
    {
        var parsed = Assert.IsType<TagChangeEvent>(MirrorEventParser.Parse(Fixture(file)));
        Assert.Equal("i-1234567890abcdef0", parsed.InstanceId);
        Assert.Contains("automirror", parsed.ChangedTagKeys);
        Assert.True(parsed.Tags.ContainsKey("automirror"));
        Assert.Equal(version, parsed.Version);
    }

    [Fact]
    public void Parse_TagRemoved_KeyIsChangedButAbsentFromTags()
    {
        var parsed = Assert.IsType<TagChangeEvent>(MirrorEventParser.Parse(Fixture("tag-change-v3-mirror-removed.json")));
        Assert.Contains("automirror", parsed.ChangedTagKeys);
        Assert.False(parsed.Tags.ContainsKey("automirror"));
    }

    [Theory]
    [InlineData("malformed/detail-only.json", "'id'")]
    [InlineData("malformed/not-json.txt", "not valid JSON")]
    [InlineData("malformed/unknown-state.json", "rebooting")]
    [InlineData("malformed/missing-instance-id.json", "detail.instance-id")]
    [InlineData("malformed/tag-change-volume.json", "not ec2/instance")]
    [InlineData("malformed/unexpected-source.json", "aws.autoscaling")]
    public void Parse_MalformedFixture_IsRejectedNamingTheProblem(string file, string problem)
    {
        var rejected = Assert.IsType<RejectedEvent>(MirrorEventParser.Parse(Fixture(file)));
        Assert.Contains(problem, rejected.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("{\"id\":\"x\",\"time\":\"2021-01-01T00:00:00Z\",\"source\":\"aws.tag\",\"detail-type\":\"Tag Change on Resource\",\"resources\":[\"arn:aws:ec2:us-east-1:1:instance/i-1\"],\"detail\":{\"service\":\"ec2\",\"resource-type\":\"instance\",\"changed-tag-keys\":[1],\"tags\":{}}}")]
    [InlineData("{\"id\":\"x\",\"time\":\"2021-01-01T00:00:00Z\",\"source\":\"aws.tag\",\"detail-type\":\"Tag Change on Resource\",\"resources\":[\"arn:aws:ec2:us-east-1:1:instance/i-1\"],\"detail\":{\"service\":\"ec2\",\"resource-type\":\"instance\",\"changed-tag-keys\":[],\"tags\":{\"a\":1}}}")]
    public void Parse_OddShapes_AreRejectedNotThrown(string json) =>
        Assert.IsType<RejectedEvent>(MirrorEventParser.Parse(System.Text.Encoding.UTF8.GetBytes(json)));
}
