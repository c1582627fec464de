using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.Tests.Support;

namespace AutoMirror.Aws.Tests;

public sealed class ResponseReadingTests
{
    [Fact]
    public async Task DescribeInstances_FollowsNextToken_AcrossEveryPage()
    {
        var handler = new RecordingHandler((request, n) => RecordingHandler.Xml(
            $"<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><reservationSet><item><instancesSet>" +
            $"<item><instanceId>i-{n}</instanceId><instanceType>m5.large</instanceType><instanceState><code>16</code><name>running</name></instanceState>" +
            "<tagSet><item><key>automirror</key><value>true</value></item></tagSet></item>" +
            $"</instancesSet></item></reservationSet>{(n < 3 ? $"<nextToken>t{n}</nextToken>" : "")}</DescribeInstancesResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler));

        var instances = await clients.Ec2.DescribeInstancesAsync([new Ec2Filter("tag-key", "automirror")], CancellationToken.None);

        Assert.Equal(["i-1", "i-2", "i-3"], instances.Select(i => i.InstanceId));
        Assert.All(instances, i => Assert.Equal("true", i.Tags["automirror"]));
        Assert.Equal([null, "t1", "t2"], handler.Requests.Select(r => r.Param("NextToken")));

        // The filter is repeated on every page, or later pages would describe the whole account.
        Assert.All(handler.Requests, r => Assert.Equal("tag-key", r.Param("Filter.1.Name")));
    }

    [Fact]
    public async Task DescribeInstances_ReadsThePlacementsZone()
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml(
            "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><reservationSet><item><instancesSet>" +
            "<item><instanceId>i-1</instanceId><instanceType>c6in.large</instanceType><instanceState><code>16</code><name>running</name></instanceState>" +
            "<placement><availabilityZone>us-east-1b</availabilityZone><tenancy>default</tenancy></placement></item>" +
            "<item><instanceId>i-2</instanceId><instanceType>c6in.large</instanceType><instanceState><code>16</code><name>running</name></instanceState></item>" +
            "</instancesSet></item></reservationSet></DescribeInstancesResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler));

        var instances = await clients.Ec2.DescribeInstancesAsync([new Ec2Filter("instance-id", ["i-1", "i-2"])], CancellationToken.None);

        Assert.Equal(["us-east-1b", null], instances.Select(i => i.AvailabilityZone));
    }

    [Fact]
    public async Task DescribeTargetHealth_ReadsTheZoneOfIpTargets_AndNoneForInstanceTargets()
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml(
            "<DescribeTargetHealthResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><DescribeTargetHealthResult><TargetHealthDescriptions>" +
            "<member><Target><Id>10.0.100.7</Id><Port>4789</Port><AvailabilityZone>us-east-1a</AvailabilityZone></Target><TargetHealth><State>healthy</State></TargetHealth></member>" +
            "<member><Target><Id>i-0123456789abcdef0</Id><Port>4789</Port></Target><TargetHealth><State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason></TargetHealth></member>" +
            "</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler));

        var targets = await clients.LoadBalancing.DescribeTargetHealthAsync("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/s/1", CancellationToken.None);

        Assert.Equal([("10.0.100.7", "healthy", "us-east-1a"), ("i-0123456789abcdef0", "unhealthy", null)], targets.Select(t => (t.TargetId, t.State, t.AvailabilityZone)));
    }

    [Fact]
    public async Task DescribeInstanceTypes_AsksOnlyOnce_PerType()
    {
        var handler = new RecordingHandler((request, _) =>
        {
            var types = request.Form.Where(p => p.Key.StartsWith("InstanceType.", StringComparison.Ordinal)).Select(p => p.Value);
            return RecordingHandler.Xml("<DescribeInstanceTypesResponse><instanceTypeSet>" +
                string.Concat(types.Select(t => $"<item><instanceType>{t}</instanceType><hypervisor>nitro</hypervisor><bareMetal>{t.EndsWith(".metal", StringComparison.Ordinal).ToString().ToLowerInvariant()}</bareMetal></item>")) +
                "</instanceTypeSet></DescribeInstanceTypesResponse>");
        });
        using var clients = new AwsClients(TestClients.Options(handler));

        await clients.Ec2.DescribeInstanceTypesAsync(["m5.large", "c5.metal"], CancellationToken.None);
        var again = await clients.Ec2.DescribeInstanceTypesAsync(["c5.metal", "m5.large", "t3.micro"], CancellationToken.None);

        Assert.Equal(2, handler.Count);
        Assert.Equal("t3.micro", handler.Requests.Last().Param("InstanceType.1"));
        Assert.Null(handler.Requests.Last().Param("InstanceType.2"));
        Assert.Equal([("c5.metal", true), ("m5.large", false), ("t3.micro", false)], again.Select(t => (t.InstanceType, t.BareMetal)));
    }

    [Fact]
    public async Task DeleteTags_WithNoKeys_SendsNothing_RatherThanDeletingEveryTag()
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml("<DeleteTagsResponse/>"));
        using var clients = new AwsClients(TestClients.Options(handler));

        await clients.Ec2.DeleteTagsAsync(["i-1"], [], CancellationToken.None);
        await clients.Ec2.DescribeInstancesAsync(Array.Empty<string>(), CancellationToken.None);

        Assert.Equal(0, handler.Count);
    }

    [Fact]
    public async Task CreateTrafficMirrorSession_WithoutPacketLengthOrVni_LeavesThemToAws()
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml(
            "<CreateTrafficMirrorSessionResponse><trafficMirrorSession><trafficMirrorSessionId>tms-1</trafficMirrorSessionId><trafficMirrorTargetId>tmt-1</trafficMirrorTargetId>" +
            "<trafficMirrorFilterId>tmf-1</trafficMirrorFilterId><networkInterfaceId>eni-1</networkInterfaceId><sessionNumber>1</sessionNumber><virtualNetworkId>9001</virtualNetworkId>" +
            "<tagSet><item><key>automirror:managed</key><value>true</value></item></tagSet></trafficMirrorSession></CreateTrafficMirrorSessionResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler));

        var session = await clients.Ec2.CreateTrafficMirrorSessionAsync(
            new CreateTrafficMirrorSessionRequest("eni-1", "tmt-1", "tmf-1", 1, null, null, "tok", new Dictionary<string, string> { ["automirror:managed"] = "true" }),
            CancellationToken.None);

        var sent = Assert.Single(handler.Requests);
        Assert.Null(sent.Param("PacketLength"));
        Assert.Null(sent.Param("VirtualNetworkId"));
        Assert.Equal("tok", sent.Param("ClientToken"));
        Assert.Equal("traffic-mirror-session", sent.Param("TagSpecification.1.ResourceType"));
        Assert.Equal(("tms-1", 9001, null, "true"), (session.TrafficMirrorSessionId, session.VirtualNetworkId, session.PacketLength, session.Tags["automirror:managed"]));
    }

    [Fact]
    public async Task GetMetricData_MergesPagesPerQuery_AndBatchesAt500Queries()
    {
        var handler = new RecordingHandler((request, _) =>
        {
            var page2 = request.Param("NextToken") is not null;
            var first = request.Param("MetricDataQueries.member.1.Id")!;
            return RecordingHandler.Xml("<GetMetricDataResponse><GetMetricDataResult><MetricDataResults>" +
                $"<member><Id>{first}</Id><StatusCode>{(page2 ? "Complete" : "PartialData")}</StatusCode>" +
                $"<Timestamps><member>2026-01-01T00:0{(page2 ? 5 : 0)}:00Z</member></Timestamps><Values><member>{(page2 ? 2.5 : 1)}</member></Values></member>" +
                $"</MetricDataResults>{(page2 ? "" : "<NextToken>more</NextToken>")}</GetMetricDataResult></GetMetricDataResponse>");
        });
        using var clients = new AwsClients(TestClients.Options(handler));
        var queries = Enumerable.Range(0, 501)
            .Select(i => new MetricDataQuery($"q{i}", "AWS/EC2", "NetworkIn", new Dictionary<string, string> { ["InstanceId"] = $"i-{i}" }, 300, "Sum"))
            .ToList();

        var results = await clients.CloudWatch.GetMetricDataAsync(queries, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddHours(1), CancellationToken.None);

        Assert.Equal(4, handler.Count);
        Assert.Equal("q499", handler.Requests.First().Param("MetricDataQueries.member.500.Id"));
        Assert.Null(handler.Requests.First().Param("MetricDataQueries.member.501.Id"));
        var q0 = Assert.Single(results, r => r.Id == "q0");
        Assert.Equal("Complete", q0.StatusCode);
        Assert.Equal([1.0, 2.5], q0.Values);
        Assert.Equal(2, q0.Timestamps.Count);
        Assert.Contains(results, r => r.Id == "q500");
    }

    [Fact]
    public async Task EmptyNextToken_EndsPagination()
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml(
            "<DescribeTrafficMirrorTargetsResponse><trafficMirrorTargetSet/><nextToken></nextToken></DescribeTrafficMirrorTargetsResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler));

        await clients.Ec2.DescribeTrafficMirrorTargetsAsync([], CancellationToken.None);

        Assert.Equal(1, handler.Count);
    }

    [Fact]
    public async Task RepeatedNextToken_FailsInsteadOfLoopingForever()
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml(
            "<DescribeListenersResponse><DescribeListenersResult><Listeners/><NextMarker>same</NextMarker></DescribeListenersResult></DescribeListenersResponse>"));
        using var clients = new AwsClients(TestClients.Options(handler));

        var error = await Assert.ThrowsAsync<FormatException>(() => clients.LoadBalancing.DescribeListenersAsync("arn:lb", CancellationToken.None));

        Assert.Contains("same pagination token", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, handler.Count);
    }

    [Theory]
    [InlineData("ec2")]
    [InlineData("sfn")]
    public async Task SuccessfulAnswerThatIsNotXmlOrJson_IsAClearFormatError(string service)
    {
        var handler = new RecordingHandler((_, _) => new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new StringContent("<html>captive portal") });
        using var clients = new AwsClients(TestClients.Options(handler));

        var error = service == "ec2"
            ? await Assert.ThrowsAsync<FormatException>(() => clients.Ec2.DescribeTrafficMirrorTargetsAsync([], CancellationToken.None))
            : await Assert.ThrowsAsync<FormatException>(() => clients.StepFunctions.DescribeExecutionAsync("arn:e", CancellationToken.None));

        Assert.Contains(service == "ec2" ? "DescribeTrafficMirrorTargets" : "DescribeExecution", error.Message, StringComparison.Ordinal);
    }
}
