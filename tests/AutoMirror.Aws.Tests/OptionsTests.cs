using Amazon;
using Amazon.Runtime;
using AutoMirror.Aws.Tests.Support;

namespace AutoMirror.Aws.Tests;

public sealed class OptionsTests
{
    private static readonly Func<AWSCredentials> SomeCredentials = () => new BasicAWSCredentials("AKID", "secret");

    private static AwsClientOptions Resolve(Dictionary<string, string> environment, string? metadataRegion = null, Func<AWSCredentials>? credentials = null) =>
        AwsClientOptions.FromEnvironment(environment.GetValueOrDefault, () => metadataRegion, credentials ?? SomeCredentials);

    [Fact]
    public void Region_PrefersAwsRegion_ThenAwsDefaultRegion_ThenInstanceMetadata()
    {
        Assert.Equal("eu-west-1", Resolve(new() { ["AWS_REGION"] = "eu-west-1", ["AWS_DEFAULT_REGION"] = "us-west-2" }, "ap-south-1").Region.SystemName);
        Assert.Equal("us-west-2", Resolve(new() { ["AWS_DEFAULT_REGION"] = "us-west-2" }, "ap-south-1").Region.SystemName);
        Assert.Equal("ap-south-1", Resolve([], "ap-south-1").Region.SystemName);
    }

    [Fact]
    public void MissingRegion_NamesTheVariables()
    {
        var error = Assert.Throws<AwsConfigurationException>(() => Resolve([]));

        Assert.Contains("AWS_REGION", error.Message, StringComparison.Ordinal);
        Assert.Contains("AWS_DEFAULT_REGION", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("credentials", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingCredentials_FromTheSdkDefaultChain_IsOneClearError()
    {
        // The real SDK chain, in the test process's empty, IMDS-disabled AWS environment (see TestClients).
        var error = Assert.Throws<AwsConfigurationException>(() =>
            AwsClientOptions.FromEnvironment(new Dictionary<string, string> { ["AWS_REGION"] = "us-east-1" }.GetValueOrDefault, () => null));

        Assert.Contains("credentials", error.Message, StringComparison.Ordinal);
        Assert.Contains("AWS_ACCESS_KEY_ID", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("region", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<AmazonClientException>(error.InnerException);
    }

    [Fact]
    public async Task Credentials_FromEnvironmentVariables_ThroughTheSdkDefaultChain_SignRequests()
    {
        // Same class as the missing-credentials test, so xunit never runs the two at once on the process environment.
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "AKIDFROMENV");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "secret-from-env");
        Environment.SetEnvironmentVariable("AWS_SESSION_TOKEN", "token-from-env");
        try
        {
            var options = AwsClientOptions.FromEnvironment(new Dictionary<string, string> { ["AWS_REGION"] = "eu-central-1" }.GetValueOrDefault, () => null);
            var handler = new RecordingHandler((_, _) => RecordingHandler.Xml("<DeleteTrafficMirrorSessionResponse/>"));
            using var clients = new AwsClients(options with { Handler = handler, EndpointUrl = new Uri("http://127.0.0.1:1/") });

            await clients.Ec2.DeleteTrafficMirrorSessionAsync("tms-1", CancellationToken.None);

            var sent = Assert.Single(handler.Requests);
            Assert.Contains("Credential=AKIDFROMENV/", sent.Headers["Authorization"], StringComparison.Ordinal);
            Assert.Contains("/eu-central-1/ec2/aws4_request", sent.Headers["Authorization"], StringComparison.Ordinal);
            Assert.Equal("token-from-env", sent.Headers["X-Amz-Security-Token"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", null);
            Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", null);
            Environment.SetEnvironmentVariable("AWS_SESSION_TOKEN", null);
        }
    }

    [Fact]
    public void MissingRegionAndCredentials_AreReportedTogether()
    {
        var error = Assert.Throws<AwsConfigurationException>(() =>
            Resolve([], credentials: () => throw new AmazonClientException("no credentials")));

        Assert.Contains("region", error.Message, StringComparison.Ordinal);
        Assert.Contains("credentials", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("us-east-1", "https://ec2.us-east-1.amazonaws.com/", "https://states.us-east-1.amazonaws.com/")]
    [InlineData("cn-north-1", "https://ec2.cn-north-1.amazonaws.com.cn/", "https://states.cn-north-1.amazonaws.com.cn/")]
    [InlineData("us-gov-west-1", "https://ec2.us-gov-west-1.amazonaws.com/", "https://states.us-gov-west-1.amazonaws.com/")]
    public void DefaultEndpoints_FollowThePartition(string region, string ec2, string sfn)
    {
        var options = Resolve(new() { ["AWS_REGION"] = region });

        Assert.Equal(new Uri(ec2), options.EndpointFor(AwsService.Ec2));
        Assert.Equal(new Uri(sfn), options.EndpointFor(AwsService.StepFunctions));
        Assert.Equal(new Uri($"https://elasticloadbalancing.{region}.{options.Region.PartitionDnsSuffix}/"), options.EndpointFor(AwsService.LoadBalancing));
        Assert.Equal(new Uri($"https://monitoring.{region}.{options.Region.PartitionDnsSuffix}/"), options.EndpointFor(AwsService.CloudWatch));
    }

    [Fact]
    public void EndpointOverrides_ServiceSpecificWinsOverGlobal()
    {
        var options = Resolve(new()
        {
            ["AWS_REGION"] = "us-east-1",
            ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566",
            ["AWS_ENDPOINT_URL_SFN"] = "http://127.0.0.1:8083",
            ["AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2"] = "http://127.0.0.1:9000",
        });

        Assert.Equal(new Uri("http://127.0.0.1:4566"), options.EndpointFor(AwsService.Ec2));
        Assert.Equal(new Uri("http://127.0.0.1:4566"), options.EndpointFor(AwsService.CloudWatch));
        Assert.Equal(new Uri("http://127.0.0.1:8083"), options.EndpointFor(AwsService.StepFunctions));
        Assert.Equal(new Uri("http://127.0.0.1:9000"), options.EndpointFor(AwsService.LoadBalancing));
    }

    [Theory]
    [InlineData("EC2")]
    [InlineData("CLOUDWATCH")]
    public void EndpointOverride_ForOneService_LeavesTheOthersOnAws(string id)
    {
        var options = Resolve(new() { ["AWS_REGION"] = "us-east-1", ["AWS_ENDPOINT_URL_" + id] = "http://localhost:5000/" });

        var overridden = AwsService.All.Single(s => s.EndpointVariableSuffix == id);
        Assert.Equal(new Uri("http://localhost:5000/"), options.EndpointFor(overridden));
        Assert.All(AwsService.All.Where(s => s != overridden), s => Assert.EndsWith(".amazonaws.com", options.EndpointFor(s).Host, StringComparison.Ordinal));
    }

    [Fact]
    public void IgnoreConfiguredEndpointUrls_DisablesOverrides()
    {
        var options = Resolve(new()
        {
            ["AWS_REGION"] = "us-east-1", ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566", ["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true",
        });

        Assert.Equal(new Uri("https://ec2.us-east-1.amazonaws.com/"), options.EndpointFor(AwsService.Ec2));
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://example.test/")]
    [InlineData("/relative")]
    public void MalformedEndpointOverride_NamesTheVariable(string value)
    {
        var error = Assert.Throws<AwsConfigurationException>(() =>
            Resolve(new() { ["AWS_REGION"] = "us-east-1", ["AWS_ENDPOINT_URL_EC2"] = value }));

        Assert.Contains("AWS_ENDPOINT_URL_EC2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Requests_AreSignedForTheServiceAndRegion_AndSentToTheOverride()
    {
        var handler = new RecordingHandler((request, _) => request.Headers.ContainsKey("X-Amz-Target")
            ? RecordingHandler.Json("{\"executionArn\":\"arn:x\",\"startDate\":1767225600.5}")
            : RecordingHandler.Xml("<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions/></DescribeTargetHealthResult></DescribeTargetHealthResponse>"));
        var options = TestClients.Options(handler) with
        {
            Region = RegionEndpoint.EUWest1,
            Credentials = new SessionAWSCredentials("AKID", "secret", "session-token"),
            EndpointUrl = new Uri("http://127.0.0.1:4566/"),
        };
        using var clients = new AwsClients(options);

        var started = await clients.StepFunctions.StartExecutionAsync("arn:aws:states:eu-west-1:123456789012:stateMachine:m", "n", "{}", CancellationToken.None);
        await clients.LoadBalancing.DescribeTargetHealthAsync("arn:tg", CancellationToken.None);

        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1767225600500), started.StartDate);
        var requests = handler.Requests.ToList();
        Assert.All(requests, r => Assert.Equal(new Uri("http://127.0.0.1:4566/"), r.Uri));
        Assert.All(requests, r => Assert.Equal("session-token", r.Headers["X-Amz-Security-Token"]));
        Assert.StartsWith("AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/states/aws4_request", requests[0].Headers["Authorization"], StringComparison.Ordinal);
        Assert.StartsWith("AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/elasticloadbalancing/aws4_request", requests[1].Headers["Authorization"], StringComparison.Ordinal);
        Assert.Equal("AWSStepFunctions.StartExecution", requests[0].Headers["X-Amz-Target"]);
        Assert.Equal("application/x-amz-json-1.0", requests[0].Headers["Content-Type"]);
    }

    [Theory]
    [InlineData(null, "http://ec2.override.test:5000/")]
    [InlineData("true", "https://ec2.us-east-1.amazonaws.com/")]
    public async Task Ec2_OnTheProcessEnvironment_TheSdkReadsTheEndpointVariablesItself(string? ignoreConfigured, string expectedEc2)
    {
        // Same class as the other tests that touch the process environment, so xunit never runs them at once.
        string[] names = ["AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"];
        Environment.SetEnvironmentVariable("AWS_REGION", "us-east-1");
        Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL", "http://global.override.test:4566");
        Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL_EC2", "http://ec2.override.test:5000");
        Environment.SetEnvironmentVariable("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", ignoreConfigured);

        // The SDK reads AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (with retry mode and the like) once per process and keeps
        // it; a Lambda's environment never changes, a test's does.
        Amazon.Runtime.Internal.FallbackInternalConfigurationFactory.Reset();
        try
        {
            var options = AwsClientOptions.FromEnvironment(credentials: SomeCredentials);
            var handler = new RecordingHandler((request, _) => request.Headers.ContainsKey("X-Amz-Target")
                ? RecordingHandler.Json("{\"executionArn\":\"arn:x\",\"startDate\":1767225600}")
                : RecordingHandler.Xml("<DeleteTrafficMirrorSessionResponse/>"));
            using var clients = new AwsClients(options with { Handler = handler });

            await clients.Ec2.DeleteTrafficMirrorSessionAsync("tms-1", CancellationToken.None);
            await clients.StepFunctions.StartExecutionAsync("arn:aws:states:us-east-1:123456789012:stateMachine:m", "n", "{}", CancellationToken.None);

            Assert.True(options.SdkReadsEndpointVariables);
            var requests = handler.Requests.ToList();
            Assert.Equal(expectedEc2, requests[0].Uri.AbsoluteUri);
            Assert.Contains("/us-east-1/ec2/aws4_request", requests[0].Headers["Authorization"], StringComparison.Ordinal);

            // The hand-written clients resolve the same variables the same way.
            Assert.Equal(ignoreConfigured is null ? "http://global.override.test:4566/" : "https://states.us-east-1.amazonaws.com/", requests[1].Uri.AbsoluteUri);
        }
        finally
        {
            foreach (var name in names)
            {
                Environment.SetEnvironmentVariable(name, null);
            }

            Amazon.Runtime.Internal.FallbackInternalConfigurationFactory.Reset();
        }
    }

    [Theory]
    [InlineData("us-east-1", "https://ec2.us-east-1.amazonaws.com/")]
    [InlineData("cn-north-1", "https://ec2.cn-north-1.amazonaws.com.cn/")]
    [InlineData("us-gov-west-1", "https://ec2.us-gov-west-1.amazonaws.com/")]
    public async Task Ec2_WithoutAnOverride_GoesWhereTheSdksEndpointRulesSay_SignedForTheRegion(string region, string expected)
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml("<DeleteTrafficMirrorSessionResponse/>"));
        using var clients = new AwsClients(TestClients.Options(handler) with { Region = RegionEndpoint.GetBySystemName(region), EndpointUrl = null });

        await clients.Ec2.DeleteTrafficMirrorSessionAsync("tms-1", CancellationToken.None);

        var sent = Assert.Single(handler.Requests);
        Assert.Equal(expected, sent.Uri.AbsoluteUri);
        Assert.Contains($"/{region}/ec2/aws4_request", sent.Headers["Authorization"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ec2_WithAnOverrideGivenInCode_IsSentThere_AndSignedForTheConfiguredRegion()
    {
        var handler = new RecordingHandler((_, _) => RecordingHandler.Xml("<DeleteTrafficMirrorSessionResponse/>"));
        var options = Resolve(new() { ["AWS_REGION"] = "ap-southeast-2", ["AWS_ENDPOINT_URL_EC2"] = "http://127.0.0.1:4566" });
        using var clients = new AwsClients(options with { Handler = handler });

        await clients.Ec2.DeleteTrafficMirrorSessionAsync("tms-1", CancellationToken.None);

        Assert.False(options.SdkReadsEndpointVariables);
        var sent = Assert.Single(handler.Requests);
        Assert.Equal("http://127.0.0.1:4566/", sent.Uri.AbsoluteUri);
        Assert.Contains("/ap-southeast-2/ec2/aws4_request", sent.Headers["Authorization"], StringComparison.Ordinal);
    }
}
