using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Tests;

public class SessionIdentityTests
{
    [Fact]
    public void VniForLab_IsStableAcrossRunsForTheSameLab() =>
        Assert.Equal(SessionIdentity.VniForLab("lab-a", new Dictionary<int, string>(), null), SessionIdentity.VniForLab("lab-a", new Dictionary<int, string>(), null));

    [Fact]
    public void VniForLab_DiffersBetweenLabs() =>
        Assert.NotEqual(SessionIdentity.VniForLab("lab-a", new Dictionary<int, string>(), null), SessionIdentity.VniForLab("lab-b", new Dictionary<int, string>(), null));

    [Fact]
    public void VniForLab_ReusesTheVniTheLabsSessionsAlreadyCarry() =>
        Assert.Equal(1234, SessionIdentity.VniForLab("lab-a", new Dictionary<int, string> { [1234] = "lab-a", [99] = "lab-b" }, null));

    [Fact]
    public void VniForLab_WhenHashIsHeldByAnotherLab_ProbesToAFreeOne()
    {
        var hash = SessionIdentity.HashVni("lab-a");
        var vni = SessionIdentity.VniForLab("lab-a", new Dictionary<int, string> { [hash] = "lab-clone" }, null);
        Assert.NotEqual(hash, vni);
        Assert.InRange(vni, 1, (1 << 24) - 1);
    }

    [Fact]
    public void VniForLab_WithoutLab_UsesConfiguredDefault() =>
        Assert.Equal(7, SessionIdentity.VniForLab("", new Dictionary<int, string>(), 7));

    [Fact]
    public void VniForLab_LabNeverTakesTheConfiguredDefault()
    {
        var hash = SessionIdentity.HashVni("lab-a");
        Assert.NotEqual(hash, SessionIdentity.VniForLab("lab-a", new Dictionary<int, string>(), hash));
    }

    [Fact]
    public void RetryClientToken_DiffersFromTheOriginalAndIsDeterministic()
    {
        var token = SessionIdentity.ClientToken("eni-1", "tmt-1", "tmf-1", 1);
        Assert.NotEqual(token, SessionIdentity.RetryClientToken(token, "tms-old"));
        Assert.Equal(SessionIdentity.RetryClientToken(token, "tms-old"), SessionIdentity.RetryClientToken(token, "tms-old"));
    }
}
