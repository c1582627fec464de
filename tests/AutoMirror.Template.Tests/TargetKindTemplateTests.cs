using System.Text.Json.Nodes;
using AutoMirror.Core.Configuration;
using AutoMirror.Functions.Handlers;
using AutoMirror.Functions.Tests.Fakes;
using AutoMirror.Template.Tests.CrossCheck;
using AutoMirror.Template.Tests.Model;

namespace AutoMirror.Template.Tests;

/// <summary>
/// TargetKind (issue #17 item 1): one template, three kinds of mirror target, chosen by Conditions. Each kind's
/// resources exist only under its condition, the mirror target names exactly one of them, and each kind's IAM grants
/// only what that kind's code calls (each kind deploys in the local cloud: localcloud/tests/test_target_kinds.py, Functions.Tests InterfaceTargetStackTests, the lab).
/// </summary>
public sealed class TargetKindTemplateTests
{
    private static readonly SamTemplate Template = SamTemplate.Load();

    private static string Json(JsonNode? node) => node?.ToJsonString() ?? "null";

    [Fact]
    public void TargetKind_IsNlbEniOrGwlbe_EachWithItsCondition()
    {
        var parameter = Template.Root["Parameters"]!["TargetKind"]!;
        Assert.Equal("""["nlb","eni","gwlbe"]""", Json(parameter["AllowedValues"]));
        foreach (var (condition, kind) in new[] { ("IsNlbTarget", "nlb"), ("IsEniTarget", "eni"), ("IsGwlbeTarget", "gwlbe") })
        {
            Assert.Equal($$"""{"Fn::Equals":[{"Ref":"TargetKind"},"{{kind}}"]}""", Json(Template.Root["Conditions"]![condition]));
        }
    }

    [Fact]
    public void MirrorTarget_NamesExactlyOneKind_TheOthersAreNoValue()
    {
        var target = Template.Properties("MirrorTarget");
        var named = new Dictionary<string, (string Condition, string Resource)>
        {
            ["NetworkLoadBalancerArn"] = ("IsNlbTarget", "SensorLoadBalancer"),
            ["NetworkInterfaceId"] = ("IsEniTarget", "SensorInterface"),
            ["GatewayLoadBalancerEndpointId"] = ("IsGwlbeTarget", "SensorEndpoint"),
        };
        foreach (var (property, (condition, resource)) in named)
        {
            Assert.Equal($$"""{"Fn::If":["{{condition}}",{"Ref":"{{resource}}"},{"Ref":"AWS::NoValue"}]}""", Json(target[property]));
            Assert.Equal(condition, (string?)Template.Resources[resource]!["Condition"]);
        }

        // EC2 replaces a target whose Description changes: an nlb stack updated to this template keeps its target.
        Assert.Equal("AutoMirror sensor load balancer", (string?)target["Description"]);
    }

    [Fact]
    public void GatewayKind_IsAGatewayLoadBalancerWithAGeneveTargetGroup_AndAnEndpointInOneSubnet()
    {
        Assert.Equal("gateway", (string?)Template.Properties("SensorGatewayLoadBalancer")["Type"]);
        var group = Template.Properties("SensorGeneveTargetGroup");
        Assert.Equal(("GENEVE", "6081"), ((string?)group["Protocol"], (string?)group["Port"]));
        Assert.Contains((string?)group["HealthCheckProtocol"], new[] { "HTTP", "HTTPS", "TCP" });
        var listener = Template.Properties("SensorGatewayListener");
        Assert.Null(listener["Protocol"]);
        Assert.Null(listener["Port"]);
        Assert.Equal("""{"Ref":"SensorGeneveTargetGroup"}""", Json(listener["DefaultActions"]![0]!["TargetGroupArn"]));
        var service = Template.Properties("SensorEndpointService");
        Assert.Equal("""[{"Ref":"SensorGatewayLoadBalancer"}]""", Json(service["GatewayLoadBalancerArns"]));
        Assert.Equal("false", (string?)service["AcceptanceRequired"]);
        var endpoint = Template.Properties("SensorEndpoint");
        Assert.Equal("GatewayLoadBalancer", (string?)endpoint["VpcEndpointType"]);
        Assert.Single(endpoint["SubnetIds"]!.AsArray());
        // The sensors hear GENEVE from the load balancer and decode it.
        var ingress = Template.Properties("SensorSecurityGroup")["SecurityGroupIngress"]!.AsArray();
        var geneve = Assert.Single(ingress, r => (string?)r!["Fn::If"]?[0] == "IsGwlbeTarget")!["Fn::If"]![1]!;
        Assert.Equal(("udp", "6081"), ((string?)geneve["IpProtocol"], (string?)geneve["FromPort"]));
        Assert.Contains("GeneveFlag: !If [IsGwlbeTarget, --geneve, '']", File.ReadAllText(Path.Combine(AutoMirror.Testing.RepositoryRoot.Path, "template.yaml")), StringComparison.Ordinal);
        var installer = File.ReadAllText(Path.Combine(AutoMirror.Testing.RepositoryRoot.Path, "deploy", "sensor-package", "install.sh"));
        Assert.Contains("--geneve) geneve=1", installer, StringComparison.Ordinal);
        Assert.Contains("echo \"Sensor__GeneveEnabled=true\"", installer, StringComparison.Ordinal);
    }

    [Fact]
    public void InterfaceKind_IsOneSensor_WithoutALoadBalancer_InTheInterfacesZone()
    {
        var rule = Template.Root["Rules"]!["InterfaceTargetHasOneSensor"]!;
        Assert.Equal("""{"Fn::Equals":[{"Ref":"TargetKind"},"eni"]}""", Json(rule["RuleCondition"]));
        Assert.Equal("""{"Fn::Equals":[{"Ref":"SensorCount"},"1"]}""", Json(rule["Assertions"]![0]!["Assert"]));
        var group = Template.Properties("SensorGroup");
        Assert.Equal("""{"Fn::If":["IsEniTarget","EC2","ELB"]}""", Json(group["HealthCheckType"]));
        Assert.Contains("IsEniTarget", Json(group["VPCZoneIdentifier"]), StringComparison.Ordinal);
        Assert.Equal("""{"Fn::Select":["0",{"Ref":"SensorSubnetIds"}]}""", Json(Template.Properties("SensorInterface")["SubnetId"]));
    }

    [Fact]
    public void InterfaceKind_SensorMayMoveOnlyTheTargetInterface_OnlyBetweenThisStacksSensors()
    {
        var grants = Template.AllStatements().Where(s => s.Allows("ec2:AttachNetworkInterface") || s.Allows("ec2:DetachNetworkInterface")).ToList();

        Assert.Equal(2, grants.Count);
        Assert.All(grants, g => Assert.Equal(("SensorRole", "IsEniTarget"), (g.Origin, g.OnlyWhen)));
        var onInterface = Assert.Single(grants, g => Json(g.Resources[0]).Contains("network-interface/", StringComparison.Ordinal));
        Assert.EndsWith("network-interface/${SensorInterface}\"}", Json(onInterface.Resources[0]), StringComparison.Ordinal);
        var onInstances = Assert.Single(grants, g => Json(g.Resources[0]).Contains("instance/*", StringComparison.Ordinal));
        Assert.Equal("""{"Fn::Sub":"${AWS::StackName}-sensor"}""", Json(onInstances.Condition?["StringEquals"]?["aws:ResourceTag/Name"]));
    }

    [Fact]
    public void HealthGate_GrantsPerKind_OnlyWhatThatKindCalls()
    {
        var statements = Template.FunctionStatements("TargetHealthFunction");

        // nlb and gwlbe read the target group's health; eni which running sensor holds the interface.
        Assert.Equal(["elasticloadbalancing:DescribeTargetHealth"], Assert.Single(statements, s => s.OnlyWhen == "!IsEniTarget").Actions);
        Assert.Equal(["ec2:DescribeInstances"], Assert.Single(statements, s => s.OnlyWhen == "IsEniTarget").Actions);
        // The third: zone-local delivery's sensors' zones (TemplateContractTests), which TargetKind=eni excludes by Rule.
        Assert.Equal(["ec2:DescribeInstances"], Assert.Single(statements, s => s.OnlyWhen == "ZoneLocal").Actions);
        Assert.Equal(3, statements.Count);
    }

    /// <summary>Whether a statement under <c>!If</c> (<see cref="PolicyStatement.OnlyWhen"/>) exists for this kind;
    /// conditions other than the kind's are left to their own tests.</summary>
    public static bool HoldsForKind(string? onlyWhen, string kind)
    {
        var negated = onlyWhen?.StartsWith('!') == true;
        var condition = negated ? onlyWhen![1..] : onlyWhen;
        var holds = condition switch
        {
            "IsNlbTarget" => kind == "nlb",
            "IsEniTarget" => kind == "eni",
            "IsGwlbeTarget" => kind == "gwlbe",
            _ => (bool?)null,
        };
        return holds is null || holds.Value != negated;
    }

    [Fact]
    public async Task HealthGate_UnderTheInterfaceKind_CallsExactlyWhatItsRoleAllowsThen()
    {
        var settings = new FunctionScenarios(Template).SettingsFor("TargetHealthFunction") with
        {
            TargetKind = MirrorTargetKind.Eni,
            SensorInterfaceId = "eni-0000000000000se01",
            SensorTargetGroupArn = null,
            ZoneLocalDelivery = false, // the template's ZoneLocalNeedsALoadBalancer rule refuses it with an interface target
        };
        var world = new FunctionScenarios.World(settings);
        world.Ec2.AddTarget(TestWorld.Target, "eni-0000000000000se01");
        world.Ec2.AddInstance("i-0000000000000se01", "running", new Dictionary<string, string>());

        var health = await FunctionScenarios.InvokeAsync(new AttachSteps(world.Recorded).CheckTargetHealthAsync, "{}");

        Assert.Contains("\"healthy\":true", health, StringComparison.Ordinal);
        var recorded = world.Calls.ToHashSet(StringComparer.Ordinal);
        Assert.Equal(["ec2:DescribeInstances"], recorded);
        var statements = Template.FunctionStatements("TargetHealthFunction").Where(s => HoldsForKind(s.OnlyWhen, "eni")).ToList();
        Assert.All(recorded, action => Assert.Contains(statements, s => s.Allows(action)));
        var extra = AwsOperations.AllActions().Where(a => !recorded.Contains(a) && statements.Any(s => s.Allows(a))).ToList();
        Assert.Empty(extra);
    }

    [Fact]
    public void Functions_KnowTheKind_AndTheGateOfIt()
    {
        var environment = Template.Root["Globals"]!["Function"]!["Environment"]!["Variables"]!;
        Assert.Equal("""{"Ref":"TargetKind"}""", Json(environment["TARGET_KIND"]));
        Assert.Equal("""{"Fn::If":["IsEniTarget",{"Ref":"SensorInterface"},""]}""", Json(environment["SENSOR_INTERFACE_ID"]));
        Assert.Equal("""{"Fn::If":["IsNlbTarget",{"Ref":"SensorTargetGroup"},{"Fn::If":["IsGwlbeTarget",{"Ref":"SensorGeneveTargetGroup"},""]}]}""",
            Json(environment["SENSOR_TARGET_GROUP_ARN"]));
    }
}
