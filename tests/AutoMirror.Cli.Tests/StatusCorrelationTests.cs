using AutoMirror.Cli.Status;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Configuration;
using AutoMirror.Testing.Fakes;

namespace AutoMirror.Cli.Tests;

/// <summary>
/// `automirror status` names the run that wrote each instance's status by the correlation id its log lines carry. For
/// an event's attach that is the event's id, although its status tag is written in a batch for many instances.
/// </summary>
public sealed class StatusCorrelationTests
{
    private const string Target = "tmt-0000000000000000a";

    [Fact]
    public async Task AnEventsAttach_ShowsTheEventsId_AsTheRunThatWroteTheStatus()
    {
        var ec2 = new FakeEc2();
        var settings = AutoMirrorSettings.FromVariables(name => name switch
        {
            "MIRROR_TARGET_ID" => Target,
            "MIRROR_FILTER_ID" => "tmf-0000000000000000b",
            "SENSOR_TARGET_GROUP_ARN" => "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sensor/1",
            _ => null,
        });
        var services = new AutoMirrorServices(settings, ec2, new FakeLoadBalancing(), new FakeStepFunctions(), TimeProvider.System, new RecordingLog(),
            cloudWatch: new FakeCloudWatch());
        var instance = ec2.Launch(new Dictionary<string, string> { ["automirror"] = "true" }, interfaces: 2);

        // The Attach workflow's steps for the event "evt-7a1e": create-first, so the status goes into the batch.
        var plan = await services.Reconciler.EvaluateAsync(instance, "running", null, default, "evt-7a1e");
        var created = await services.Reconciler.CreateSessionsAsync(plan, default);
        await services.Reconciler.VerifyAsync(plan, created, default);
        await services.Reconciler.StatusBatch.FlushAsync(default);

        var report = await new StatusReader(ec2, new FakeLoadBalancing(), services.Teardown, settings).ReadAsync(null, default);

        var row = Assert.Single(report.Instances, i => i.InstanceId == instance);
        Assert.Equal("mirrored", row.StatusTag);
        Assert.Equal("evt-7a1e", row.CorrelationId);
        Assert.Equal(2, row.Sessions.Count);
        Assert.All(row.Sessions, s => Assert.Equal("evt-7a1e", s.CorrelationId));
    }
}
