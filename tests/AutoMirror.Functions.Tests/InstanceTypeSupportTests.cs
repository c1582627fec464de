using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Tests;

public class InstanceTypeSupportTests
{
    private static TypeVerdict Evaluate(string type, string? hypervisor, bool metal = false, string[]? supported = null, string[]? unsupported = null) =>
        InstanceTypeSupport.Evaluate(type, new InstanceTypeInfo(type, hypervisor, metal), supported ?? [], unsupported ?? []);

    [Theory]
    [InlineData("m5.large")]
    [InlineData("t3.micro")]
    [InlineData("c5n.xlarge")]
    public void Evaluate_NitroNotInDocumentedList_IsSupported(string type) => Assert.True(Evaluate(type, "nitro").IsSupported);

    [Theory]
    [InlineData("m6i.large")]
    [InlineData("c7g.medium")]
    [InlineData("m7i-flex.large")]
    [InlineData("r7iz.xlarge")]
    public void Evaluate_DocumentedUnsupportedNitroFamily_IsUnsupportedDespiteNitro(string type)
    {
        var verdict = Evaluate(type, "nitro");
        Assert.False(verdict.IsSupported);
        Assert.Equal("documented-unsupported-family", verdict.Reason);
    }

    [Fact]
    public void Evaluate_BareMetal_IsUnsupported() => Assert.Equal("bare-metal", Evaluate("m5.metal", null, metal: true).Reason);

    [Theory]
    [InlineData("c4.large", true)]
    [InlineData("m4.xlarge", true)]
    [InlineData("x1e.xlarge", true)]
    [InlineData("t2.micro", false)]
    [InlineData("m3.medium", false)]
    public void Evaluate_Xen_OnlyDocumentedFamiliesAreSupported(string type, bool supported) =>
        Assert.Equal(supported, Evaluate(type, "xen").IsSupported);

    [Fact]
    public void Evaluate_ConfiguredSupportedFamily_OverridesDocumentedList() =>
        Assert.True(Evaluate("m6i.large", "nitro", supported: ["m6i.*"]).IsSupported);

    [Fact]
    public void Evaluate_ConfiguredUnsupportedType_OverridesNitro() =>
        Assert.False(Evaluate("m5.large", "nitro", unsupported: ["m5.large"]).IsSupported);

    [Fact]
    public void Evaluate_UnknownToDescribe_IsTriedSoAwsDecides() =>
        Assert.True(InstanceTypeSupport.Evaluate("zz9.large", null, [], []).IsSupported);
}
