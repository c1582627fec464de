using AutoMirror.Aws.Ec2;
using AutoMirror.Core.Ownership;
using AutoMirror.Functions.Handlers;
using AutoMirror.Functions.Tests.Fakes;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Abstractions;
using EventHandler = AutoMirror.Functions.Handlers.EventHandler;

namespace AutoMirror.Functions.Tests;

/// <summary>
/// Random histories in which interfaces move between instances (and are detached), instances are tagged, untagged,
/// stopped and started, and events for the old and new owners arrive in any order, end — after the scheduled
/// reconcile — with every AutoMirror session on an interface attached to a qualifying instance, made for (tagged
/// with) that instance, behind every foreign session on the interface; every qualifying instance's interfaces
/// mirrored once; foreign sessions untouched; the status tag only on instances in scope.
/// </summary>
public class InterfaceMovePropertyTests(ITestOutputHelper output)
{
    private const int Cases = 200;

    /// <summary>Kind: 0 move an interface to another instance, 1 detach an interface, 2 tag, 3 untag, 4 stop, 5 start, 6 reconcile all.</summary>
    public sealed record Step(int Kind, int Instance, int Other, int Interface, int[] Deliveries);

    public sealed record Scenario(bool[] Tagged, bool[] Supported, int[] Interfaces, int[] Foreign, Step[] Steps)
    {
        public override string ToString() =>
            $"tagged=[{string.Join(",", Tagged)}] supported=[{string.Join(",", Supported)}] interfaces=[{string.Join(",", Interfaces)}] foreign=[{string.Join(",", Foreign)}] " +
            $"steps=[{string.Join(" ", Steps.Select(s => $"{s.Kind}:{s.Instance}>{s.Other}#{s.Interface}"))}]";
    }

    private static readonly Gen<Step> StepGen =
        from kind in Gen.Frequency((6, Gen.Constant(0)), (2, Gen.Constant(1)), (2, Gen.Constant(2)), (2, Gen.Constant(3)),
            (2, Gen.Constant(4)), (2, Gen.Constant(5)), (1, Gen.Constant(6)))
        from instance in Gen.Choose(0, 5)
        from other in Gen.Choose(0, 5)
        from eni in Gen.Choose(0, 20)
        from deliveries in Gen.ArrayOf(Gen.Choose(0, 1000), 3)
        select new Step(kind, instance, other, eni, deliveries);

    private static readonly Gen<Scenario> ScenarioGen =
        from count in Gen.Choose(2, 6)
        from tagged in Gen.ArrayOf(Gen.Elements(true, true, false), count)
        from supported in Gen.ArrayOf(Gen.Elements(true, true, true, false), count)
        from interfaces in Gen.ArrayOf(Gen.Choose(1, 3), count)
        from foreign in Gen.ArrayOf(Gen.Elements(0, 0, 1, 2), count)
        from steps in Gen.NonEmptyListOf(StepGen).Select(l => l.ToArray())
        select new Scenario(tagged, supported, interfaces, foreign, steps);

    [Fact]
    public void RandomInterfaceMoves_EndWithSessionsOnlyWhereTheInterfaceOwnerQualifies()
    {
        var ran = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Cases).WithEndSize(30), Prop.ForAll(Arb.From(ScenarioGen), async scenario =>
        {
            Interlocked.Increment(ref ran);
            await RunAsync(scenario);
        }));
        output.WriteLine($"FsCheck: {ran} random histories with interface moves passed");
        Assert.Equal(Cases, ran);
    }

    private static async Task RunAsync(Scenario scenario)
    {
        var world = new TestWorld();
        var events = new EventHandler(world.Services);
        var reconcile = new ReconcileHandler(world.Services);
        var ids = new List<string>();
        var foreign = new List<TrafficMirrorSession>();
        var emitted = new List<string>();
        for (var i = 0; i < scenario.Tagged.Length; i++)
        {
            var id = world.Ec2.Launch(scenario.Tagged[i] ? new Dictionary<string, string> { ["automirror"] = "true" } : null,
                scenario.Supported[i] ? "m5.large" : "m5.metal", scenario.Interfaces[i]);
            ids.Add(id);
            var primary = world.Ec2.InterfacesOf(id)[0];
            for (var n = 0; n < scenario.Foreign[i]; n++)
            {
                foreign.Add(world.Ec2.AddForeignSession(primary, n == 1 ? TestWorld.Target : "tmt-foreign", 10 + (5 * n)));
            }

            emitted.Add(ConvergencePropertyTests.StateEvent(world, id, "running"));
        }

        var parked = new List<string>();
        foreach (var step in scenario.Steps)
        {
            var id = ids[step.Instance % ids.Count];
            var other = ids[step.Other % ids.Count];
            var state = world.Ec2.InstanceState(id);
            switch (step.Kind)
            {
                case 0:
                    // A parked interface is attached again, or an instance's secondary one moves (the primary cannot).
                    var enis = parked.Concat(ids.SelectMany(i => world.Ec2.InterfacesOf(i).Skip(1))).ToList();
                    if (enis.Count > 0 && other != id)
                    {
                        var eni = enis[step.Interface % enis.Count];
                        world.Ec2.MoveInterface(eni, other);
                        parked.Remove(eni);
                    }

                    break;
                case 1:
                    var secondaries = world.Ec2.InterfacesOf(id).Skip(1).ToList();
                    if (secondaries.Count > 0)
                    {
                        var eni = secondaries[step.Interface % secondaries.Count];
                        world.Ec2.MoveInterface(eni, null);
                        parked.Add(eni);
                    }

                    break;
                case 2:
                    world.Ec2.SetTag(id, "automirror", "true");
                    emitted.Add(ConvergencePropertyTests.TagEvent(world, id, ["automirror"]));
                    break;
                case 3:
                    world.Ec2.RemoveTag(id, "automirror");
                    emitted.Add(ConvergencePropertyTests.TagEvent(world, id, ["automirror"]));
                    break;
                case 4 when state == "running":
                    world.Ec2.SetState(id, "stopped");
                    emitted.Add(ConvergencePropertyTests.StateEvent(world, id, "stopped"));
                    break;
                case 5 when state == "stopped":
                    world.Ec2.SetState(id, "running");
                    emitted.Add(ConvergencePropertyTests.StateEvent(world, id, "running"));
                    break;
                case 6:
                    await TestWorld.InvokeAsync(reconcile.HandleAsync, "{\"all\":true}");
                    break;
                default:
                    break;
            }

            foreach (var index in step.Deliveries.Select(d => d % emitted.Count))
            {
                await TestWorld.InvokeAsync(events.HandleAsync, emitted[index]);
            }
        }

        // No event says an interface moved: the scheduled reconcile is what must settle it.
        await TestWorld.InvokeAsync(reconcile.HandleAsync, "{\"all\":true}");
        AssertSessionsFollowTheirInterfaces(world, ids, foreign, scenario);
    }

    private static void AssertSessionsFollowTheirInterfaces(TestWorld world, List<string> ids, List<TrafficMirrorSession> foreign, Scenario scenario)
    {
        var ours = world.OurSessions();
        var all = world.Ec2.AllSessions();
        var ownerOf = ids.SelectMany(id => world.Ec2.InterfacesOf(id).Select(eni => (eni, id))).ToDictionary(p => p.eni, p => p.id);
        bool Qualifies(string id) => world.Ec2.InstanceState(id) == "running" && world.Ec2.TagsOf(id).GetValueOrDefault("automirror") == "true"
            && scenario.Supported[ids.IndexOf(id)];

        foreach (var session in ours)
        {
            Assert.True(ownerOf.TryGetValue(session.NetworkInterfaceId, out var owner), $"{session.TrafficMirrorSessionId} is on a detached interface");
            Assert.True(Qualifies(owner), $"{session.TrafficMirrorSessionId} mirrors {owner}, which does not qualify");
            Assert.Equal(owner, session.Tags[SessionTags.InstanceId]);
            var foreignNumbers = all.Where(s => s.NetworkInterfaceId == session.NetworkInterfaceId && !SessionTags.IsOurs(s, TestWorld.Target)).Select(s => s.SessionNumber);
            Assert.All(foreignNumbers, n => Assert.True(n < session.SessionNumber, $"{session.TrafficMirrorSessionId} (#{session.SessionNumber}) is ahead of a foreign session #{n}"));
        }

        foreach (var id in ids.Where(Qualifies))
        {
            Assert.Equal(world.Ec2.InterfacesOf(id).Order(), ours.Where(s => ownerOf[s.NetworkInterfaceId] == id).Select(s => s.NetworkInterfaceId).Order());
        }

        Assert.All(foreign, f => Assert.Contains(f, all));
        foreach (var id in ids)
        {
            var inScope = world.Ec2.TagsOf(id).ContainsKey("automirror");
            if (!inScope)
            {
                Assert.False(world.Ec2.TagsOf(id).ContainsKey(SessionTags.Status), $"{id} is out of scope but carries {SessionTags.Status}");
            }
            else if (world.Ec2.InstanceState(id) == "stopped" && world.Ec2.TagsOf(id).TryGetValue(SessionTags.Status, out var status))
            {
                Assert.NotEqual("mirrored", status);
            }
        }
    }
}
