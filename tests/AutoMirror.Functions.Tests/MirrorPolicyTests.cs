using AutoMirror.Core.Ownership;
using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Configuration;
using AutoMirror.Core.Mirroring;
using AutoMirror.Functions.Tests.Fakes;

namespace AutoMirror.Functions.Tests;

public class MirrorPolicyTests
{
    private static readonly TypeVerdict Supported = new(TypeSupport.Supported, "nitro");
    private static readonly IReadOnlySet<string> NoTargetEnis = new HashSet<string>();

    private static AutoMirrorSettings Settings(Func<string, string?>? overrides = null) =>
        AutoMirrorSettings.FromVariables(n => overrides?.Invoke(n) ?? TestWorld.Defaults(n));

    private static Ec2Instance Instance(
        Dictionary<string, string>? tags = null,
        string vpc = "vpc-1",
        string subnet = "subnet-1",
        params InstanceNetworkInterface[] enis) =>
        new("i-1", "m5.large", "running", vpc, subnet, "10.0.0.1",
            tags ?? new Dictionary<string, string> { ["automirror"] = "true" },
            enis.Length > 0 ? enis : [new InstanceNetworkInterface("eni-1", "interface", 0, subnet, "10.0.0.1")],
            DateTimeOffset.UnixEpoch);

    [Theory]
    [InlineData("true")]
    [InlineData("TRUE")]
    [InlineData(" True ")]
    public void Evaluate_WhenMirrorTagHasAcceptedValueInAnyCase_Qualifies(string value)
    {
        var result = MirrorPolicy.Evaluate(Instance(new() { ["automirror"] = value }), "running", Settings(), Supported, NoTargetEnis);
        Assert.True(result.Qualifies);
        Assert.Equal(MirrorStatus.Mirrored, result.Status);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("")]
    [InlineData("yes")]
    public void Evaluate_WhenMirrorTagHasOtherValue_DoesNotQualify(string value)
    {
        var result = MirrorPolicy.Evaluate(Instance(new() { ["automirror"] = value }), "running", Settings(), Supported, NoTargetEnis);
        Assert.False(result.Qualifies);
        Assert.Equal("not-tagged", result.Reason);
    }

    [Fact]
    public void Evaluate_WithConfiguredKeyAndValues_UsesThem()
    {
        var settings = Settings(n => n switch { "MIRROR_TAG_KEY" => "Monitor", "MIRROR_TAG_VALUES" => "yes,on", _ => null });
        Assert.True(MirrorPolicy.Evaluate(Instance(new() { ["Monitor"] = "ON" }), "running", settings, Supported, NoTargetEnis).Qualifies);
        Assert.False(MirrorPolicy.Evaluate(Instance(new() { ["automirror"] = "true" }), "running", settings, Supported, NoTargetEnis).Qualifies);
    }

    [Fact]
    public void Evaluate_WhenMirrorTagAbsent_DoesNotQualify() =>
        Assert.False(MirrorPolicy.Evaluate(Instance([]), "running", Settings(), Supported, NoTargetEnis).Qualifies);

    [Theory]
    [InlineData("pending")]
    [InlineData("stopping")]
    [InlineData("stopped")]
    [InlineData("shutting-down")]
    [InlineData("terminated")]
    public void Evaluate_WhenNotRunning_DoesNotQualify(string state)
    {
        var result = MirrorPolicy.Evaluate(Instance(), state, Settings(), Supported, NoTargetEnis);
        Assert.False(result.Qualifies);
        Assert.Equal("instance-" + state, result.Reason);
    }

    [Fact]
    public void Evaluate_WhenExcluded_ReportsExcluded()
    {
        var result = MirrorPolicy.Evaluate(Instance(new() { ["automirror"] = "true", ["automirror:exclude"] = "true" }), "running", Settings(), Supported, NoTargetEnis);
        Assert.False(result.Qualifies);
        Assert.Equal(MirrorStatus.Excluded, result.Status);
    }

    [Fact]
    public void Evaluate_WhenOutsideConfiguredVpcs_DoesNotQualify()
    {
        var settings = Settings(n => n == "VPC_IDS" ? "vpc-2,vpc-3" : null);
        Assert.False(MirrorPolicy.Evaluate(Instance(vpc: "vpc-1"), "running", settings, Supported, NoTargetEnis).Qualifies);
        Assert.True(MirrorPolicy.Evaluate(Instance(vpc: "vpc-3"), "running", settings, Supported, NoTargetEnis).Qualifies);
    }

    [Fact]
    public void Evaluate_WhenInstanceIsInSensorSubnet_RefusesToLoop()
    {
        var settings = Settings(n => n == "SENSOR_SUBNET_IDS" ? "subnet-sensor" : null);
        var result = MirrorPolicy.Evaluate(Instance(subnet: "subnet-sensor"), "running", settings, Supported, NoTargetEnis);
        Assert.False(result.Qualifies);
        Assert.Equal("sensor-would-loop", result.Reason);
    }

    [Fact]
    public void Evaluate_WhenInstanceIsInSensorAutoScalingGroup_RefusesToLoop()
    {
        var settings = Settings(n => n == "SENSOR_AUTOSCALING_GROUP" ? "automirror-sensor" : null);
        var tags = new Dictionary<string, string> { ["automirror"] = "true", ["aws:autoscaling:groupName"] = "automirror-sensor" };
        Assert.Equal("sensor-would-loop", MirrorPolicy.Evaluate(Instance(tags), "running", settings, Supported, NoTargetEnis).Reason);
    }

    [Fact]
    public void Evaluate_WhenInstanceOwnsTheTargetInterface_RefusesToLoop()
    {
        var result = MirrorPolicy.Evaluate(Instance(), "running", Settings(), Supported, new HashSet<string> { "eni-1" });
        Assert.Equal("sensor-would-loop", result.Reason);
    }

    [Fact]
    public void Evaluate_WhenTypeUnsupported_ReportsUnsupportedInstanceType()
    {
        var result = MirrorPolicy.Evaluate(Instance(), "running", Settings(), new TypeVerdict(TypeSupport.Unsupported, "bare-metal"), NoTargetEnis);
        Assert.False(result.Qualifies);
        Assert.Equal(MirrorStatus.UnsupportedInstanceType, result.Status);
    }

    [Fact]
    public void Evaluate_WithSeveralInterfaces_SourcesEveryEligibleOneAndSkipsOthers()
    {
        var result = MirrorPolicy.Evaluate(
            Instance(null, "vpc-1", "subnet-1",
                new InstanceNetworkInterface("eni-b", "interface", 1, "subnet-1", null),
                new InstanceNetworkInterface("eni-a", "interface", 0, "subnet-1", null),
                new InstanceNetworkInterface("eni-efa", "efa-only", 2, "subnet-1", null),
                new InstanceNetworkInterface("eni-trunk", "trunk", 3, "subnet-1", null)),
            "running", Settings(), Supported, NoTargetEnis);

        Assert.True(result.Qualifies);
        Assert.Equal(["eni-a", "eni-b"], result.SourceInterfaces.Select(e => e.NetworkInterfaceId));
    }
}
