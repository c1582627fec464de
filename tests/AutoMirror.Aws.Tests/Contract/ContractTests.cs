using AutoMirror.Aws.CloudWatch;
using AutoMirror.Aws.Ec2;
using AutoMirror.Aws.Tests.Support;

namespace AutoMirror.Aws.Tests.Contract;

/// <summary>
/// Every request the clients can emit, checked against botocore's service models: each operation is exercised with
/// every parameter the client can set (and a second page, so pagination tokens are checked too).
/// </summary>
public sealed class ContractTests
{
    private static readonly Lazy<BotocoreModel> Ec2 = new(() => BotocoreModel.Load("ec2", "2016-11-15", "ec2"));
    private static readonly Lazy<BotocoreModel> Elbv2 = new(() => BotocoreModel.Load("elbv2", "2015-12-01", "query"));
    private static readonly Lazy<BotocoreModel> Sfn = new(() => BotocoreModel.Load("stepfunctions", "2016-11-23", "json"));
    private static readonly Lazy<BotocoreModel> CloudWatch = new(() => BotocoreModel.Load("cloudwatch", "2010-08-01", "query"));

    private static readonly string[] AllOperations =
    [
        "DescribeInstances", "DescribeInstanceTypes", "DescribeTrafficMirrorSessions",
        "DescribeTrafficMirrorTargets", "CreateTrafficMirrorSession", "DeleteTrafficMirrorSession",
        "CreateTags", "DeleteTags", "StopInstances", "TerminateInstances",
        "DescribeTargetHealth", "DescribeListeners", "DescribeTargetGroups", "DescribeLoadBalancerAttributes", "DescribeTargetGroupAttributes",
        "StartExecution", "DescribeExecution", "GetMetricData",
    ];

    [Fact]
    public async Task EveryRequestTheClientsEmit_MatchesBotocoresModels()
    {
        var requests = await ExerciseEveryOperation();

        Assert.Equal(AllOperations.Order(), requests.Select(r => r.Operation!).Distinct().Order());
        var problems = requests.SelectMany(r => ModelFor(r).Validate(r).Select(p => $"{r.Operation}: {p}")).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));

        // Pagination tokens went out on the second page of each paginated call.
        Assert.Contains(requests, r => r.Operation == "DescribeInstances" && r.Param("NextToken") == "page-2");
        Assert.Contains(requests, r => r.Operation == "DescribeTargetGroups" && r.Param("Marker") == "page-2");
        Assert.Contains(requests, r => r.Operation == "GetMetricData" && r.Param("NextToken") == "page-2");
    }

    [Fact]
    public async Task Validator_RejectsAMisspelledParameter_InACapturedRequest()
    {
        var session = (await ExerciseEveryOperation()).First(r => r.Operation == "CreateTrafficMirrorSession");
        Assert.Empty(Ec2.Value.Validate(session));

        var misspelled = Rewrite(session, "TrafficMirrorFilterId", "TrafficMirrorFiltreId");

        Assert.Contains(Ec2.Value.Validate(misspelled), p => p.Contains("'TrafficMirrorFiltreId' is not a member", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Action=DescribeInstances&Version=2016-11-15&Filter.1.Nmae=tag-key&Filter.1.Value.1=automirror", "'Nmae' is not a member")]
    [InlineData("Action=DescribeInstances&Version=2016-11-15&Filters.1.Name=tag-key", "'Filters' is not a member")]
    [InlineData("Action=DescribeInstances&Version=2016-11-15&Filter.member.1.Name=tag-key", "needs a 1-based index")]
    [InlineData("Action=DescribeInstances&Version=2016-11-15&InstanceId.2=i-1", "expected 1..1")]
    [InlineData("Action=CreateTrafficMirrorSession&Version=2016-11-15&NetworkInterfaceId=eni-1&TrafficMirrorTargetId=tmt-1&TrafficMirrorFilterId=tmf-1", "required member SessionNumber")]
    [InlineData("Action=CreateTrafficMirrorSession&Version=2016-11-15&NetworkInterfaceId=eni-1&TrafficMirrorTargetId=tmt-1&TrafficMirrorFilterId=tmf-1&SessionNumber=one", "is not an integer")]
    [InlineData("Action=CreateTrafficMirrorSession&Version=2016-11-15&NetworkInterfaceId=eni-1&TrafficMirrorTargetId=tmt-1&TrafficMirrorFilterId=tmf-1&SessionNumber=1&TagSpecification.1.ResourceType=traffic-mirror-sesion", "not one of ResourceType's values")]
    [InlineData("Action=CreateTags&Version=2016-11-15&ResourceId.1=i-1", "required member Tag")]
    [InlineData("Action=DescribeInstanceTypes&Version=2016-11-15&MaxResults=1000", "above DITMaxResults's maximum")]
    [InlineData("Action=DescribeInstances&Version=2015-10-01", "Version is not 2016-11-15")]
    [InlineData("Action=DescribeInstancez&Version=2016-11-15", "is not an operation")]
    public void Validator_RejectsMalformedEc2Requests(string body, string expected) =>
        Assert.Contains(Ec2.Value.Validate(Form(body, "ec2")), p => p.Contains(expected, StringComparison.Ordinal));

    [Theory]
    [InlineData("Action=DescribeTargetGroups&Version=2015-12-01&TargetGroupArns.1=arn", "must be written TargetGroupArns.member.N")]
    [InlineData("Action=DescribeTargetHealth&Version=2015-12-01", "required member TargetGroupArn")]
    [InlineData("Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=arn&Include.member.1=Everything", "not one of")]
    public void Validator_RejectsMalformedQueryRequests(string body, string expected) =>
        Assert.Contains(Elbv2.Value.Validate(Form(body, "elasticloadbalancing")), p => p.Contains(expected, StringComparison.Ordinal));

    [Theory]
    [InlineData("StartExecution", "{\"stateMachineARN\":\"arn:aws:states:us-east-1:1:stateMachine:m\"}", "'stateMachineARN' is not a member")]
    [InlineData("StartExecution", "{\"name\":\"x\"}", "required member 'stateMachineArn'")]
    [InlineData("DescribeExecution", "{\"executionArn\":\"arn:aws:states:us-east-1:1:execution:m:x\",\"includedData\":\"SOME_DATA\"}", "not one of IncludedData's values")]
    [InlineData("StartExecution", "{\"stateMachineArn\":42}", "expected a string")]
    public void Validator_RejectsMalformedJsonRequests(string operation, string body, string expected)
    {
        var request = new CapturedRequest(HttpMethod.Post, new Uri("http://127.0.0.1/"), new Dictionary<string, string>
        {
            ["X-Amz-Target"] = "AWSStepFunctions." + operation,
            ["Content-Type"] = "application/x-amz-json-1.0",
            ["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0",
        }, body);

        Assert.Contains(Sfn.Value.Validate(request), p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validator_RejectsARequestSignedForTheWrongService()
    {
        var request = Form("Action=DescribeInstances&Version=2016-11-15", "monitoring");

        Assert.Contains(Ec2.Value.Validate(request), p => p.Contains("not signed with SigV4 for service 'ec2'", StringComparison.Ordinal));
    }

    private static BotocoreModel ModelFor(CapturedRequest request) => request.Headers["Authorization"] switch
    {
        var a when a.Contains("/ec2/", StringComparison.Ordinal) => Ec2.Value,
        var a when a.Contains("/elasticloadbalancing/", StringComparison.Ordinal) => Elbv2.Value,
        var a when a.Contains("/states/", StringComparison.Ordinal) => Sfn.Value,
        _ => CloudWatch.Value,
    };

    private static CapturedRequest Form(string body, string signingName) =>
        new(HttpMethod.Post, new Uri("http://127.0.0.1/"), new Dictionary<string, string>
        {
            ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
            ["Authorization"] = $"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/{signingName}/aws4_request, SignedHeaders=host, Signature=0",
        }, body);

    private static CapturedRequest Rewrite(CapturedRequest request, string from, string to) =>
        request with { Body = string.Join('&', request.Body.Split('&').Select(p => p.StartsWith(from + "=", StringComparison.Ordinal) ? to + p[from.Length..] : p)) };

    /// <summary>Runs every client operation with all parameters set against canned answers; returns what was sent.</summary>
    internal static async Task<List<CapturedRequest>> ExerciseEveryOperation()
    {
        var handler = new RecordingHandler((request, _) => CannedAnswer(request));
        using var clients = new AwsClients(TestClients.Options(handler));
        var none = CancellationToken.None;
        Ec2Filter[] filters = [new("tag:automirror", ["true", "yes"]), new("instance-state-name", "running")];
        var tags = new Dictionary<string, string> { ["automirror:managed"] = "true", ["automirror:lab"] = "lab-1" };

        await clients.Ec2.DescribeInstancesAsync(["i-0123456789abcdef0", "i-0123456789abcdef1"], none);
        await clients.Ec2.DescribeInstancesAsync(filters, none);
        await clients.Ec2.DescribeInstanceTypesAsync(["m5.large", "c5n.metal"], none);
        await clients.Ec2.DescribeTrafficMirrorSessionsAsync(filters, none);
        await clients.Ec2.DescribeTrafficMirrorTargetsAsync(filters, none);
        await clients.Ec2.CreateTrafficMirrorSessionAsync(
            new CreateTrafficMirrorSessionRequest("eni-1", "tmt-1", "tmf-1", 7, 4242, 8500, "token-1", tags, "AutoMirror session"), none);
        await clients.Ec2.DeleteTrafficMirrorSessionAsync("tms-1", none);
        await clients.Ec2.CreateTagsAsync(["i-1", "tms-1"], tags, none);
        await clients.Ec2.DeleteTagsAsync(["i-1"], ["automirror:status", "automirror:lab"], none);
        await clients.Ec2.StopInstancesAsync(["i-1", "i-2"], none);
        await clients.Ec2.TerminateInstancesAsync(["i-1"], none);

        const string lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/sensor/50dc6c495c0c9188";
        const string tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/sensor/73e2d6bc24d8a067";
        await clients.LoadBalancing.DescribeTargetHealthAsync(tg, none);
        await clients.LoadBalancing.DescribeListenersAsync(lb, none);
        await clients.LoadBalancing.DescribeTargetGroupsAsync(lb, null, none);
        await clients.LoadBalancing.DescribeTargetGroupsAsync(null, [tg], none);
        await clients.LoadBalancing.DescribeLoadBalancerAttributesAsync(lb, none);
        await clients.LoadBalancing.DescribeTargetGroupAttributesAsync(tg, none);

        await clients.StepFunctions.StartExecutionAsync("arn:aws:states:us-east-1:123456789012:stateMachine:attach", "evt-1", "{\"instanceId\":\"i-1\"}", none);
        await clients.StepFunctions.DescribeExecutionAsync("arn:aws:states:us-east-1:123456789012:execution:attach:evt-1", none);

        await clients.CloudWatch.GetMetricDataAsync(
            [
                new MetricDataQuery("netin", "AWS/EC2", "NetworkIn", new Dictionary<string, string> { ["InstanceId"] = "i-1" }, 300, "Sum"),
                new MetricDataQuery("cpu", "AWS/EC2", "CPUUtilization", new Dictionary<string, string> { ["InstanceId"] = "i-1", ["ImageId"] = "ami-1" }, 60, "Maximum"),
            ],
            new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 1, 2, 0, 0, TimeSpan.Zero), none);

        return handler.Requests.ToList();
    }

    private static HttpResponseMessage CannedAnswer(CapturedRequest request)
    {
        var operation = request.Operation!;
        var firstPage = request.Param("NextToken") is null && request.Param("Marker") is null;
        return operation switch
        {
            "StartExecution" => RecordingHandler.Json("{\"executionArn\":\"arn:aws:states:us-east-1:123456789012:execution:attach:evt-1\",\"startDate\":1767225600.0}"),
            "DescribeExecution" => RecordingHandler.Json(
                "{\"executionArn\":\"arn:e\",\"stateMachineArn\":\"arn:s\",\"name\":\"evt-1\",\"status\":\"SUCCEEDED\",\"startDate\":1767225600.0,\"stopDate\":1767225601.0}"),
            "CreateTrafficMirrorSession" => RecordingHandler.Xml(
                "<CreateTrafficMirrorSessionResponse><trafficMirrorSession><trafficMirrorSessionId>tms-1</trafficMirrorSessionId><trafficMirrorTargetId>tmt-1</trafficMirrorTargetId>" +
                "<trafficMirrorFilterId>tmf-1</trafficMirrorFilterId><networkInterfaceId>eni-1</networkInterfaceId><sessionNumber>7</sessionNumber></trafficMirrorSession></CreateTrafficMirrorSessionResponse>"),
            "DescribeInstances" when firstPage && request.Param("MaxResults") is not null =>
                RecordingHandler.Xml("<DescribeInstancesResponse><reservationSet/><nextToken>page-2</nextToken></DescribeInstancesResponse>"),
            "DescribeTargetGroups" when firstPage =>
                RecordingHandler.Xml("<DescribeTargetGroupsResponse><DescribeTargetGroupsResult><TargetGroups/><NextMarker>page-2</NextMarker></DescribeTargetGroupsResult></DescribeTargetGroupsResponse>"),
            "GetMetricData" when firstPage =>
                RecordingHandler.Xml("<GetMetricDataResponse><GetMetricDataResult><MetricDataResults/><NextToken>page-2</NextToken></GetMetricDataResult></GetMetricDataResponse>"),
            _ when request.Headers["Authorization"].Contains("/ec2/", StringComparison.Ordinal) => RecordingHandler.Xml($"<{operation}Response/>"),
            _ => RecordingHandler.Xml($"<{operation}Response><{operation}Result/></{operation}Response>"),
        };
    }
}
