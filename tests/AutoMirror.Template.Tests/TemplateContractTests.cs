using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AutoMirror.Template.Tests.Model;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests;

/// <summary>template.yaml and the ASL files against docs/contracts.md and against each other.</summary>
public sealed partial class TemplateContractTests
{
    private static readonly SamTemplate Template = SamTemplate.Load();

    [Fact]
    public void Functions_AreExactlyTheContractsFunctions_WithTheirHandlers()
    {
        var contract = Contract.Functions();
        var declared = Template.FunctionIds.ToDictionary(id => id, Template.Handler);

        Assert.Equal(contract.OrderBy(p => p.Key), declared.OrderBy(p => p.Key));
        Assert.All(Template.FunctionIds, id => Assert.Equal("dotnet10", (string?)Template.FunctionProperty(id, "Runtime")));
    }

    [Fact]
    public void EveryContractVariable_IsSetForSomeFunction()
    {
        var contract = Contract.EnvironmentVariables();
        var set = Template.FunctionIds.SelectMany(f => Template.Environment(f).Keys).ToHashSet(StringComparer.Ordinal);

        Assert.Contains("MIRROR_TARGET_ID", contract);
        Assert.All(contract, name => Assert.Contains(name, set));
    }

    [Fact]
    public void NoPolicyStatement_GrantsAWholeServiceOrEveryAction()
    {
        var statements = Template.AllStatements().ToList();
        Assert.NotEmpty(statements);

        var wildcards = statements.SelectMany(s => s.Actions.Where(IamAction.IsServiceWildcard).Select(a => $"{s.Origin}: {a}")).ToList();

        Assert.Empty(wildcards);
    }

    [Fact]
    public void ResourceStar_IsUsedOnlyForActionsWithoutResourceLevelPermissions()
    {
        // Describe/List/Get* of these services and log delivery support no resource ARNs (Service Authorization
        // Reference); everything that changes something must name its resources.
        string[] needStar = ["ec2:Describe", "elasticloadbalancing:Describe", "cloudwatch:GetMetricData", "logs:"];

        var offenders = Template.AllStatements()
            .Where(s => s.Resources.Any(r => (string?)(r as JsonValue) == "*"))
            .SelectMany(s => s.Actions.Where(a => !needStar.Any(p => a.StartsWith(p, StringComparison.Ordinal))).Select(a => $"{s.Origin}: {a}"))
            .ToList();

        Assert.Empty(offenders);
    }

    [Fact]
    public void SessionCreateAndDelete_AreLimitedToOurTargetFilterAndManagedTag()
    {
        var statements = Template.AllStatements().ToList();
        var create = statements.Where(s => s.Allows("ec2:CreateTrafficMirrorSession")).ToList();
        var delete = statements.Where(s => s.Allows("ec2:DeleteTrafficMirrorSession")).ToList();

        // Target and filter: only this stack's.
        var targetGrant = Assert.Single(create, s => s.Resources.Any(r => Text(r).Contains("traffic-mirror-target/", StringComparison.Ordinal)));
        Assert.Contains(targetGrant.Resources, r => Text(r).EndsWith("traffic-mirror-target/${MirrorTarget}", StringComparison.Ordinal));
        Assert.Contains(targetGrant.Resources, r => Text(r).EndsWith("traffic-mirror-filter/${MirrorFilter}", StringComparison.Ordinal));
        Assert.DoesNotContain(targetGrant.Resources, r => Text(r).EndsWith("traffic-mirror-target/*", StringComparison.Ordinal));

        // A new session must carry automirror:managed=true; only such sessions can be deleted.
        var sessionGrant = Assert.Single(create, s => s.Resources.Any(r => Text(r).Contains("traffic-mirror-session/", StringComparison.Ordinal)));
        Assert.Equal("true", (string?)sessionGrant.Condition?["StringEquals"]?["aws:RequestTag/automirror:managed"]);
        var deleteGrant = Assert.Single(delete);
        Assert.Equal("true", (string?)deleteGrant.Condition?["StringEquals"]?["aws:ResourceTag/automirror:managed"]);

        // Tagging is allowed on sessions only as part of their creation.
        var tagOnCreate = Assert.Single(statements, s => s.Allows("ec2:CreateTags") && s.Resources.Any(r => Text(r).Contains("traffic-mirror-session/", StringComparison.Ordinal)));
        Assert.Equal("CreateTrafficMirrorSession", (string?)tagOnCreate.Condition?["StringEquals"]?["ec2:CreateAction"]);
    }

    [Fact]
    public void InstanceTagGrants_AllowExactlyTheStatusAndCorrelationIdKeys()
    {
        // The status and the correlation id of the run that wrote it go in one CreateTags request, so every grant
        // that lets the functions tag instances with them must allow both keys, and nothing else of ours.
        var grants = Template.AllStatements()
            .Where(s => s.Allows("ec2:CreateTags") && s.Resources.Any(r => Text(r).EndsWith(":instance/*", StringComparison.Ordinal)))
            .Where(s => s.Condition?["ForAllValues:StringEquals"]?["aws:TagKeys"] is JsonArray keys && keys.Any(k => k is JsonValue v && v.TryGetValue<string>(out var key) && key.StartsWith("automirror:", StringComparison.Ordinal)))
            .ToList();

        Assert.Equal(2, grants.Count);
        Assert.All(grants, g => Assert.Equal(
            AutoMirror.Core.Ownership.SessionTags.InstanceTagKeys.Order(StringComparer.Ordinal),
            g.Condition!["ForAllValues:StringEquals"]!["aws:TagKeys"]!.AsArray().Select(k => (string)k!).Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void TerminateInstances_IsGrantedOnlyWhenTheStackOptsIn()
    {
        var terminate = Template.AllStatements().Where(s => s.Allows("ec2:TerminateInstances")).ToList();

        var grant = Assert.Single(terminate);
        Assert.Equal("TerminateAllowed", grant.OnlyWhen);
        var condition = Template.Root["Conditions"]!["TerminateAllowed"]!.AsObject();
        Assert.Equal("""{"Fn::Equals":[{"Ref":"AllowTerminate"},"true"]}""", condition.ToJsonString());
    }

    [Fact]
    public void DescribeInstancesForTheHealthGate_IsGrantedOnlyWithZoneLocalDeliveryOrAnInterfaceTarget()
    {
        var grants = Template.FunctionStatements("TargetHealthFunction").Where(s => s.Allows("ec2:DescribeInstances")).ToList();

        Assert.Equal(["IsEniTarget", "ZoneLocal"], grants.Select(g => g.OnlyWhen).Order(StringComparer.Ordinal));
        Assert.Equal("""{"Fn::Equals":[{"Ref":"ZoneLocalDelivery"},"true"]}""", Template.Root["Conditions"]!["ZoneLocal"]!.ToJsonString());
    }

    [Theory]
    [InlineData("AttachStateMachine", "statemachine/attach.asl.json")]
    [InlineData("TeardownStateMachine", "statemachine/teardown.asl.json")]
    public void StateMachine_SubstitutesExactlyThePlaceholdersOfItsAsl(string stateMachineId, string aslPath)
    {
        var properties = Template.Properties(stateMachineId);
        var asl = File.ReadAllText(Path.Combine(RepositoryRoot.Path, aslPath));

        Assert.Equal(aslPath, (string?)properties["DefinitionUri"]);
        var placeholders = Placeholder().Matches(asl).Select(m => m.Groups[1].Value).ToHashSet();
        var substitutions = properties["DefinitionSubstitutions"]!.AsObject().Select(p => p.Key).ToHashSet();
        Assert.Equal(placeholders.Order(), substitutions.Order());
        Assert.Equal("STANDARD", (string?)properties["Type"]);
    }

    [Theory]
    [InlineData("AttachStateMachine", "statemachine/attach.asl.json")]
    [InlineData("TeardownStateMachine", "statemachine/teardown.asl.json")]
    public void EveryTask_InvokesAFunctionTheStateMachineMayInvoke(string stateMachineId, string aslPath)
    {
        var properties = Template.Properties(stateMachineId);
        var substitutions = properties["DefinitionSubstitutions"]!.AsObject();
        var invokable = properties["Policies"]!.AsArray()
            .Select(p => (string?)p?["LambdaInvokePolicy"]?["FunctionName"]?["Ref"])
            .Where(f => f is not null)
            .ToHashSet();
        var tasks = Asl.Tasks(JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, aslPath)))!.AsObject()).ToList();

        Assert.NotEmpty(tasks);
        foreach (var (state, task) in tasks)
        {
            var resource = (string)task["Resource"]!;
            var name = Placeholder().Match(resource) is { Success: true } m && m.Value == resource
                ? m.Groups[1].Value
                : throw new Xunit.Sdk.XunitException($"{state}: Resource '{resource}' is not a function ARN substitution (the local interpreter needs direct ARNs)");
            var getAtt = substitutions[name]?["Fn::GetAtt"]?.AsArray();
            Assert.True(getAtt is not null && (string?)getAtt[1] == "Arn", $"{state}: {name} is not a function's GetAtt Arn");
            var function = (string)getAtt![0]!;
            Assert.Contains(function, Template.FunctionIds);
            Assert.Contains(function, invokable);
        }
    }

    [Theory]
    [InlineData("statemachine/attach.asl.json")]
    [InlineData("statemachine/teardown.asl.json")]
    public void EveryTask_RetriesLambdasTransientServiceErrors_WithBackoffAndFullJitter(string aslPath)
    {
        // Step Functions' "Handle Lambda service exceptions" best practice, for Tasks that name the function's ARN.
        string[] transient = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"];
        var tasks = Asl.Tasks(JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, aslPath)))!.AsObject()).ToList();

        Assert.NotEmpty(tasks);
        foreach (var (state, task) in tasks)
        {
            var retriers = task["Retry"]?.AsArray() ?? [];
            foreach (var error in transient)
            {
                var retrier = retriers.SingleOrDefault(r => r!["ErrorEquals"]!.AsArray().Any(e => (string?)e == error))
                    ?? throw new Xunit.Sdk.XunitException($"{state} does not retry {error}");
                Assert.Equal("FULL", (string?)retrier["JitterStrategy"]);
                Assert.True(double.Parse((string)retrier["BackoffRate"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture) > 1, $"{state}: no backoff for {error}");
                Assert.True((int)retrier["MaxAttempts"]! >= 2, $"{state}: {error} is not retried");
            }
        }
    }

    [Fact]
    public void WorkflowErrorNames_AreTheContractsErrorNames()
    {
        var known = Contract.ErrorNames();
        foreach (var path in Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "statemachine"), "*.asl.json"))
        {
            var names = Asl.ErrorEquals(JsonNode.Parse(File.ReadAllText(path))!.AsObject()).Where(n => !n.StartsWith("States.", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(names);
            Assert.All(names, n => Assert.Contains(n, known));
        }
    }

    [Fact]
    public void EventRules_SendOnlyStateChangesAndMirrorExcludeOrLabTagChanges()
    {
        var events = Template.Properties("EventFunction")["Events"]!.AsObject();

        var state = events["StateChange"]!["Properties"]!["Pattern"]!;
        Assert.Equal("""["aws.ec2"]""", state["source"]!.ToJsonString());
        Assert.Equal(["running", "stopping", "stopped", "shutting-down", "terminated"], state["detail"]!["state"]!.AsArray().Select(s => (string)s!));

        var tag = events["TagChange"]!["Properties"]!["Pattern"]!;
        Assert.Equal("""["aws.tag"]""", tag["source"]!.ToJsonString());
        Assert.Equal("""[{"Ref":"MirrorTagKey"},{"Ref":"ExcludeTagKey"},{"Ref":"LabTagKey"}]""", tag["detail"]!["changed-tag-keys"]!.ToJsonString());
        Assert.Equal("""["instance"]""", tag["detail"]!["resource-type"]!.ToJsonString());
    }

    [Fact]
    public void MirrorTarget_IsAnInternalCrossZoneNlbWithUdp4789AndAnHttpHealthCheck()
    {
        var nlb = Template.Properties("SensorLoadBalancer");
        Assert.Equal("network", (string?)nlb["Type"]);
        Assert.Equal("internal", (string?)nlb["Scheme"]);
        // Cross-zone on unless the stack opts into zone-local delivery (AWS's recommendation for an NLB mirror target).
        var crossZone = Assert.Single(nlb["LoadBalancerAttributes"]!.AsArray(), a => (string?)a!["Key"] == "load_balancing.cross_zone.enabled");
        Assert.Equal("""{"Fn::If":["ZoneLocal","false","true"]}""", crossZone!["Value"]!.ToJsonString());
        Assert.Equal("false", (string?)Template.Root["Parameters"]!["ZoneLocalDelivery"]!["Default"]);

        var listener = Template.Properties("SensorListener");
        Assert.Equal(("UDP", "4789"), ((string?)listener["Protocol"], (string?)listener["Port"]));

        var group = Template.Properties("SensorTargetGroup");
        Assert.Equal(("UDP", "4789"), ((string?)group["Protocol"], (string?)group["Port"]));
        Assert.Equal("HTTP", (string?)group["HealthCheckProtocol"]);
        Assert.Equal("""{"Ref":"HealthCheckPort"}""", group["HealthCheckPort"]!.ToJsonString());
        var attributes = group["TargetGroupAttributes"]!.AsArray().ToDictionary(a => (string)a!["Key"]!, a => (string?)a!["Value"]);
        Assert.Equal("true", attributes["stickiness.enabled"]);
        Assert.Equal("source_ip", attributes["stickiness.type"]);

        // TargetKind=nlb (the default): the NLB is the target, made after its listener, with the sensors behind it.
        Assert.Equal("""{"Fn::If":["IsNlbTarget",{"Ref":"SensorLoadBalancer"},{"Ref":"AWS::NoValue"}]}""", Template.Properties("MirrorTarget")["NetworkLoadBalancerArn"]!.ToJsonString());
        Assert.Contains("""{"Ref":"SensorListener"}""", Template.Resources["MirrorTarget"]!["Metadata"]!["ListenerOfTheKind"]!.ToJsonString(), StringComparison.Ordinal);
        var groups = Template.Properties("SensorGroup")["TargetGroupARNs"]!["Fn::If"]!.AsArray();
        Assert.Equal(("IsNlbTarget", """[{"Ref":"SensorTargetGroup"}]"""), ((string?)groups[0], groups[1]!.ToJsonString()));
        Assert.All(new[] { "SensorLoadBalancer", "SensorListener", "SensorTargetGroup" }, id => Assert.Equal("IsNlbTarget", (string?)Template.Resources[id]!["Condition"]));
        Assert.Equal("nlb", (string?)Template.Root["Parameters"]!["TargetKind"]!["Default"]);
    }

    [Fact]
    public void MirrorFilter_RejectsTheSensorCidrBothWaysBeforeAcceptingEverything()
    {
        // The IPv4 rules (every rule whose CIDRs are not IPv6).
        var rules = Template.LogicalIdsOfType("AWS::EC2::TrafficMirrorFilterRule").Select(Template.Properties)
            .Where(r => !IsIpv6(r["SourceCidrBlock"]) && !IsIpv6(r["DestinationCidrBlock"]))
            .ToList();

        foreach (var direction in new[] { "ingress", "egress" })
        {
            var ordered = rules.Where(r => (string?)r["TrafficDirection"] == direction).OrderBy(r => int.Parse((string)r["RuleNumber"]!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(["reject", "accept"], ordered.Select(r => (string?)r["RuleAction"]));
            var sensorSide = direction == "ingress" ? "SourceCidrBlock" : "DestinationCidrBlock";
            Assert.Equal("""{"Ref":"SensorCidr"}""", ordered[0][sensorSide]!.ToJsonString());
            Assert.Equal(("0.0.0.0/0", "0.0.0.0/0"), ((string?)ordered[1]["SourceCidrBlock"], (string?)ordered[1]["DestinationCidrBlock"]));
        }
    }

    [Fact]
    public void SensorSecurityGroup_AdmitsVxlanAndHealthChecksFromTheVpcOnly()
    {
        // The unconditional rules; VXLAN from MirrorSourceCidr is added only when it is given (the test below).
        var ingress = Template.Properties("SensorSecurityGroup")["SecurityGroupIngress"]!.AsArray().Where(r => r!["Fn::If"] is null).ToList();

        Assert.Equal(2, ingress.Count);
        Assert.All(ingress, rule => Assert.Equal("""{"Ref":"VpcCidr"}""", rule!["CidrIp"]!.ToJsonString()));
        Assert.Contains(ingress, r => (string?)r!["IpProtocol"] == "udp" && (string?)r["FromPort"] == "4789" && (string?)r["ToPort"] == "4789");
        Assert.Contains(ingress, r => (string?)r!["IpProtocol"] == "tcp" && r["FromPort"]!.ToJsonString() == """{"Ref":"HealthCheckPort"}""");
    }

    [Fact]
    public void MirrorFilter_MirrorsQueriesToTheAmazonDnsResolver()
    {
        // Without the network service, EC2 leaves the VPC resolver's traffic out of every session: dns.log stays empty.
        var services = Template.Properties("MirrorFilter")["NetworkServices"]?.AsArray().Select(s => (string?)s);

        Assert.Equal(["amazon-dns"], services);
    }

    [Fact]
    public void MirrorFilter_MirrorsIpv6BothWays_AndRejectsTheSensorsIpv6RangeOnlyWhenGiven()
    {
        var rules = Template.LogicalIdsOfType("AWS::EC2::TrafficMirrorFilterRule").Select(id => (Id: id, Resource: Template.Resources[id]!, Properties: Template.Properties(id))).ToList();

        foreach (var direction in new[] { "ingress", "egress" })
        {
            var inDirection = rules.Where(r => (string?)r.Properties["TrafficDirection"] == direction).ToList();
            var accept = Assert.Single(inDirection, r => r.Properties["SourceCidrBlock"]?.ToJsonString() == "\"::/0\"" && r.Properties["DestinationCidrBlock"]?.ToJsonString() == "\"::/0\"");
            Assert.Equal("accept", (string?)accept.Properties["RuleAction"]);
            Assert.Null(accept.Resource["Condition"]);

            var sensorSide = direction == "ingress" ? "SourceCidrBlock" : "DestinationCidrBlock";
            var reject = Assert.Single(inDirection, r => r.Properties[sensorSide]?.ToJsonString() == """{"Ref":"SensorIpv6Cidr"}""");
            Assert.Equal("reject", (string?)reject.Properties["RuleAction"]);
            Assert.Equal("HasSensorIpv6Cidr", (string?)reject.Resource["Condition"]);
            // The first match decides: the reject must come before the accept of the same family.
            Assert.True(Number(reject.Properties) < Number(accept.Properties), $"{reject.Id} must be evaluated before {accept.Id}");
        }

        Assert.Equal(string.Empty, (string?)Template.Root["Parameters"]!["SensorIpv6Cidr"]!["Default"]);
        Assert.Equal("""{"Fn::Not":[{"Fn::Equals":[{"Ref":"SensorIpv6Cidr"},""]}]}""", Template.Root["Conditions"]!["HasSensorIpv6Cidr"]!.ToJsonString());
    }

    [Fact]
    public void SensorSecurityGroup_AdmitsVxlanFromTheMirrorSourceCidr_WhenOtherVpcsAreMirrored()
    {
        var ingress = Template.Properties("SensorSecurityGroup")["SecurityGroupIngress"]!.AsArray();

        var conditional = Assert.Single(ingress, r => (string?)r!["Fn::If"]?[0] == "HasMirrorSourceCidr")!["Fn::If"]!.AsArray();
        Assert.Equal("udp", (string?)conditional[1]!["IpProtocol"]);
        Assert.Equal(("4789", "4789"), ((string?)conditional[1]!["FromPort"], (string?)conditional[1]!["ToPort"]));
        Assert.Equal("""{"Ref":"MirrorSourceCidr"}""", conditional[1]!["CidrIp"]!.ToJsonString());
        Assert.Equal("""{"Ref":"AWS::NoValue"}""", conditional[2]!.ToJsonString());
    }

    [Fact]
    public void MirrorVpcIds_OtherThanTheSensorsVpc_NeedTheirSourceCidr_AndEmptyMeansTheSensorsVpc()
    {
        // Sessions of VPCs whose VXLAN the security group and the sensor refuse are billed and every packet dropped.
        var rule = Template.Root["Rules"]!["OtherVpcsNeedTheirSourceCidr"]!;
        Assert.Equal(
            """{"Fn::And":[{"Fn::Not":[{"Fn::Equals":[{"Ref":"MirrorVpcIds"},""]}]},{"Fn::Not":[{"Fn::Equals":[{"Ref":"MirrorVpcIds"},{"Ref":"VpcId"}]}]}]}""",
            rule["RuleCondition"]!.ToJsonString());
        var assertion = Assert.Single(rule["Assertions"]!.AsArray())!;
        Assert.Equal("""{"Fn::Not":[{"Fn::Equals":[{"Ref":"MirrorSourceCidr"},""]}]}""", assertion["Assert"]!.ToJsonString());
        Assert.Contains("MirrorSourceCidr", (string?)assertion["AssertDescription"], StringComparison.Ordinal);

        // Empty MirrorVpcIds no longer means "every VPC" (whose sources the sensor refuses) but the sensor's own VPC.
        var vpcIds = Template.FunctionGlobals!["Environment"]!["Variables"]!["VPC_IDS"]!;
        Assert.Equal("""{"Fn::If":["AllMirrorVpcsIsTheSensorVpc",{"Ref":"VpcId"},{"Ref":"MirrorVpcIds"}]}""", vpcIds.ToJsonString());
        Assert.Equal("""{"Fn::Equals":[{"Ref":"MirrorVpcIds"},""]}""", Template.Root["Conditions"]!["AllMirrorVpcsIsTheSensorVpc"]!.ToJsonString());
    }

    [Fact]
    public void SensorAndLoadBalancerSubnets_AreCheckedAtDeployToCoverTheSameZones()
    {
        var rule = Template.Root["Rules"]!["SensorAndLoadBalancerSubnetsShareZones"]!;
        var assertions = rule["Assertions"]!.AsArray().Select(a => a!["Assert"]!.ToJsonString()).ToList();

        // Fn::ValueOf per parameter: Fn::ValueOfAll would pool every subnet parameter of the type, both lists at once.
        Assert.Equal(
            [
                """{"Fn::EachMemberIn":[{"Fn::ValueOf":["SensorSubnetIds","AvailabilityZone"]},{"Fn::ValueOf":["NlbSubnetIds","AvailabilityZone"]}]}""",
                """{"Fn::EachMemberIn":[{"Fn::ValueOf":["NlbSubnetIds","AvailabilityZone"]},{"Fn::ValueOf":["SensorSubnetIds","AvailabilityZone"]}]}""",
            ],
            assertions);
        Assert.All(rule["Assertions"]!.AsArray(), a => Assert.Contains("Availability Zone", (string?)a!["AssertDescription"], StringComparison.Ordinal));
    }

    [Fact]
    public void SensorGroup_ReplacesTheWholeGroupOnUpdate_AfterSensorCountSensorsSignalHealthy()
    {
        var group = Template.Resources["SensorGroup"]!;

        // A rolling update with MinInstancesInService 0 takes the only sensor away; a replacing update keeps the old
        // group serving until the new one has SensorCount healthy sensors (MinInstancesInService < MaxSize rules out
        // a rolling update that keeps one in service when SensorCount is 1).
        Assert.Null(group["UpdatePolicy"]!["AutoScalingRollingUpdate"]);
        Assert.Equal("true", (string?)group["UpdatePolicy"]!["AutoScalingReplacingUpdate"]!["WillReplace"]);
        var signal = group["CreationPolicy"]!["ResourceSignal"]!;
        Assert.Equal("""{"Ref":"SensorCount"}""", signal["Count"]!.ToJsonString());
        Assert.Matches(@"^PT\d+M$", (string?)signal["Timeout"]);
    }

    [Fact]
    public void SensorRole_MaySignalOnlyThisStack()
    {
        var signal = Template.AllStatements().Where(s => s.Allows("cloudformation:SignalResource")).ToList();

        var grant = Assert.Single(signal);
        Assert.Equal(["cloudformation:SignalResource"], grant.Actions);
        Assert.Equal("SensorRole", grant.Origin);
        Assert.Equal("""{"Ref":"AWS::StackId"}""", Assert.Single(grant.Resources)!.ToJsonString());
    }

    [Fact]
    public void SensorImage_FollowsCanonicalsParameterAtLaunch_AndAConcreteAmiPinsIt()
    {
        var parameter = Template.Root["Parameters"]!["SensorAmiId"]!;
        var imageId = Template.Properties("SensorLaunchTemplate")["LaunchTemplateData"]!["ImageId"]!;

        // An SSM parameter type is resolved by CloudFormation at every deploy, so a new Canonical image replaced the
        // sensors on an unrelated deploy; EC2 resolves resolve:ssm: at launch and the launch template stays the same.
        Assert.Equal("String", (string?)parameter["Type"]);
        Assert.Equal(string.Empty, (string?)parameter["Default"]);
        Assert.Equal(
            """{"Fn::If":["SensorAmiPinned",{"Ref":"SensorAmiId"},"resolve:ssm:/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"]}""",
            imageId.ToJsonString());
        var pattern = new Regex((string)parameter["AllowedPattern"]!);
        Assert.Matches(pattern, "ami-0123456789abcdef0");
        Assert.Matches(pattern, string.Empty);
        Assert.DoesNotMatch(pattern, "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id");
    }

    [Fact]
    public void SamConfig_OverridesOnlyParametersTheTemplateHas_WithValuesTheyAllow()
    {
        var config = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "samconfig.toml"));
        var parameters = Template.Root["Parameters"]!.AsObject();
        var overrides = OverrideLine().Matches(config).SelectMany(line => Override().Matches(line.Groups[1].Value)).ToList();

        Assert.NotEmpty(overrides);
        foreach (Match o in overrides)
        {
            var name = o.Groups[1].Value;
            var value = o.Groups[2].Value;
            Assert.True(parameters.ContainsKey(name), $"samconfig.toml overrides {name}, which template.yaml does not declare");
            if (parameters[name]!["AllowedValues"] is JsonArray allowed)
            {
                Assert.Contains(value, allowed.Select(a => (string?)a));
            }
        }

        Assert.Contains("capabilities = \"CAPABILITY_IAM\"", config, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^parameter_overrides = ""(.*)""$", RegexOptions.Multiline)]
    private static partial Regex OverrideLine();

    [GeneratedRegex(@"(\w+)=\\""([^\\]*)\\""")]
    private static partial Regex Override();

    private static bool IsIpv6(JsonNode? cidr) =>
        (cidr is JsonValue v && v.GetValue<string>().Contains(':', StringComparison.Ordinal)) || cidr?.ToJsonString() == """{"Ref":"SensorIpv6Cidr"}""";

    private static int Number(JsonObject rule) => int.Parse((string)rule["RuleNumber"]!, System.Globalization.CultureInfo.InvariantCulture);

    private static string Text(JsonNode? node) => node switch
    {
        JsonValue v => v.GetValue<string>(),
        JsonObject o when o["Fn::Sub"] is JsonValue sub => sub.GetValue<string>(),
        _ => node?.ToJsonString() ?? string.Empty,
    };

    [GeneratedRegex(@"\$\{([A-Za-z0-9]+)\}")]
    private static partial Regex Placeholder();
}
