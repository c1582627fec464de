using System.Collections.Concurrent;
using System.Xml;
using Amazon.EC2;
using Amazon.Runtime;
using Sdk = Amazon.EC2.Model;

namespace AutoMirror.Aws.Ec2;

/// <summary>
/// <see cref="IEc2Client"/> over the AWS SDK's <see cref="AmazonEC2Client"/>: the SDK serializes, signs, resolves the
/// endpoint and reads answers; this adapter maps AutoMirror's records to the SDK's and back, and runs every call
/// through the shared pipeline's retry loop with EC2's per-action buckets (the SDK's own retries are off, so one
/// policy, one clock and one set of exceptions serve all four clients).
/// </summary>
internal sealed class Ec2Client : IEc2Client, IDisposable
{
    // The largest page each Describe accepts; fewer round trips means fewer tokens spent.
    private const int InstancesPage = 1000;
    private const int TrafficMirrorPage = 1000;
    private const int InstanceTypesPerCall = 100;

    private readonly AwsPipeline _pipeline;
    private readonly Ec2RateLimits? _rateLimits;
    private readonly Lazy<AmazonEC2Client> _client;
    private readonly ConcurrentDictionary<string, InstanceTypeInfo> _instanceTypes = new(StringComparer.Ordinal);

    public Ec2Client(AwsPipeline pipeline, Ec2RateLimits? rateLimits)
    {
        _pipeline = pipeline;
        _rateLimits = rateLimits;

        // Built on the first EC2 call, not with the handler: loading AWSSDK.EC2 and building its config cost about
        // as much as the rest of a cold start (bench/coldstart), and a function whose event needs no EC2 call
        // (EventFunction's "running") should not pay it.
        _client = new Lazy<AmazonEC2Client>(() => new AmazonEC2Client(pipeline.Options.Credentials, Config(pipeline)));
    }

    private AmazonEC2Client Ec2 => _client.Value;

    internal static AmazonEC2Config Config(AwsPipeline pipeline)
    {
        var options = pipeline.Options;
        var config = new AmazonEC2Config
        {
            RegionEndpoint = options.Region,

            // Retries belong to the pipeline (RunAsync): a second loop inside would multiply attempts and spend
            // bucket tokens the pipeline does not see.
            MaxErrorRetry = 0,
            HttpClientFactory = new SharedHandlerHttpClientFactory(pipeline.Handler),
        };

        // Options from the process environment leave AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL /
        // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS to the SDK, which reads them as every AWS SDK does. Options built in
        // code (tests, a variable lookup other than the process's) carry their override here.
        if (!options.SdkReadsEndpointVariables && options.EndpointOverrideFor(AwsService.Ec2) is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();

            // ServiceURL clears RegionEndpoint; sign for the configured region, not one guessed from the host name.
            config.AuthenticationRegion = options.Region.SystemName;
        }

        return config;
    }

    public async Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        if (instanceIds.Count == 0)
        {
            // An empty id list would mean "every instance" to EC2: never what a caller asking by id wants.
            return [];
        }

        // MaxResults may not be combined with InstanceId, but EC2 can still paginate the answer.
        return await PagesAsync(
            "DescribeInstances",
            token => new Sdk.DescribeInstancesRequest { InstanceIds = [.. instanceIds], NextToken = token },
            Ec2.DescribeInstancesAsync,
            answer => (answer.Reservations.OrEmpty().SelectMany(r => r.Instances.OrEmpty()).Select(ToInstance), answer.NextToken),
            cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<Ec2Instance>> DescribeInstancesAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        PagesAsync(
            "DescribeInstances",
            token => new Sdk.DescribeInstancesRequest { Filters = ToFilters(filters), MaxResults = InstancesPage, NextToken = token },
            Ec2.DescribeInstancesAsync,
            answer => (answer.Reservations.OrEmpty().SelectMany(r => r.Instances.OrEmpty()).Select(ToInstance), answer.NextToken),
            cancellationToken);

    public async Task<IReadOnlyList<InstanceTypeInfo>> DescribeInstanceTypesAsync(IReadOnlyCollection<string> instanceTypes, CancellationToken cancellationToken)
    {
        var missing = instanceTypes.Distinct(StringComparer.Ordinal).Where(t => !_instanceTypes.ContainsKey(t)).ToList();
        foreach (var chunk in missing.Chunk(InstanceTypesPerCall))
        {
            var found = await PagesAsync(
                "DescribeInstanceTypes",
                token => new Sdk.DescribeInstanceTypesRequest { InstanceTypes = [.. chunk], NextToken = token },
                Ec2.DescribeInstanceTypesAsync,
                answer => (answer.InstanceTypes.OrEmpty().Select(t => new InstanceTypeInfo(
                    Required(t.InstanceType?.Value, "instanceType"), NullIfEmpty(t.Hypervisor?.Value), t.BareMetal ?? false)), answer.NextToken),
                cancellationToken).ConfigureAwait(false);
            foreach (var info in found)
            {
                _instanceTypes[info.InstanceType] = info;
            }
        }

        // Types EC2 did not describe (not offered in this region) are simply absent from the answer.
        return instanceTypes.Distinct(StringComparer.Ordinal)
            .Select(t => _instanceTypes.GetValueOrDefault(t))
            .OfType<InstanceTypeInfo>()
            .ToList();
    }

    public Task<IReadOnlyList<TrafficMirrorSession>> DescribeTrafficMirrorSessionsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        PagesAsync(
            "DescribeTrafficMirrorSessions",
            token => new Sdk.DescribeTrafficMirrorSessionsRequest { Filters = ToFilters(filters), MaxResults = TrafficMirrorPage, NextToken = token },
            Ec2.DescribeTrafficMirrorSessionsAsync,
            answer => (answer.TrafficMirrorSessions.OrEmpty().Select(ToSession), answer.NextToken),
            cancellationToken);

    public Task<IReadOnlyList<TrafficMirrorTarget>> DescribeTrafficMirrorTargetsAsync(IReadOnlyList<Ec2Filter> filters, CancellationToken cancellationToken) =>
        PagesAsync(
            "DescribeTrafficMirrorTargets",
            token => new Sdk.DescribeTrafficMirrorTargetsRequest { Filters = ToFilters(filters), MaxResults = TrafficMirrorPage, NextToken = token },
            Ec2.DescribeTrafficMirrorTargetsAsync,
            answer => (answer.TrafficMirrorTargets.OrEmpty().Select(t => new TrafficMirrorTarget(
                Required(t.TrafficMirrorTargetId, "trafficMirrorTargetId"),
                NullIfEmpty(t.Type?.Value),
                NullIfEmpty(t.NetworkLoadBalancerArn),
                NullIfEmpty(t.NetworkInterfaceId),
                NullIfEmpty(t.GatewayLoadBalancerEndpointId),
                ToTags(t.Tags))), answer.NextToken),
            cancellationToken);

    public async Task<TrafficMirrorSession> CreateTrafficMirrorSessionAsync(CreateTrafficMirrorSessionRequest request, CancellationToken cancellationToken)
    {
        var create = new Sdk.CreateTrafficMirrorSessionRequest
        {
            NetworkInterfaceId = request.NetworkInterfaceId,
            TrafficMirrorTargetId = request.TrafficMirrorTargetId,
            TrafficMirrorFilterId = request.TrafficMirrorFilterId,
            SessionNumber = request.SessionNumber,
            VirtualNetworkId = request.VirtualNetworkId,
            PacketLength = request.PacketLength,
            Description = request.Description,

            // Ours, never the SDK's generated one: the same planned session must carry the same token on every
            // retry and every invocation, so EC2 answers a repeat with the session it already made.
            ClientToken = request.ClientToken,
        };
        if (request.Tags.Count > 0)
        {
            create.TagSpecifications = [new Sdk.TagSpecification { ResourceType = ResourceType.TrafficMirrorSession, Tags = ToSdkTags(request.Tags) }];
        }

        var answer = await SendAsync("CreateTrafficMirrorSession", create, Ec2.CreateTrafficMirrorSessionAsync, cancellationToken).ConfigureAwait(false);
        return ToSession(answer.TrafficMirrorSession ?? throw new FormatException("CreateTrafficMirrorSession answer has no trafficMirrorSession"));
    }

    public Task DeleteTrafficMirrorSessionAsync(string trafficMirrorSessionId, CancellationToken cancellationToken) =>
        SendAsync("DeleteTrafficMirrorSession", new Sdk.DeleteTrafficMirrorSessionRequest { TrafficMirrorSessionId = trafficMirrorSessionId },
            Ec2.DeleteTrafficMirrorSessionAsync, cancellationToken);

    public Task CreateTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyDictionary<string, string> tags, CancellationToken cancellationToken)
    {
        if (resourceIds.Count == 0 || tags.Count == 0)
        {
            return Task.CompletedTask;
        }

        return SendAsync("CreateTags", new Sdk.CreateTagsRequest { Resources = [.. resourceIds], Tags = ToSdkTags(tags) }, Ec2.CreateTagsAsync, cancellationToken);
    }

    public Task DeleteTagsAsync(IReadOnlyCollection<string> resourceIds, IReadOnlyCollection<string> tagKeys, CancellationToken cancellationToken)
    {
        // DeleteTags without keys deletes every tag of the resources: refuse to turn "nothing" into "everything".
        if (resourceIds.Count == 0 || tagKeys.Count == 0)
        {
            return Task.CompletedTask;
        }

        // Keys only (no Value): EC2 then deletes the tag whatever its value.
        var request = new Sdk.DeleteTagsRequest { Resources = [.. resourceIds], Tags = [.. tagKeys.Select(key => new Sdk.Tag { Key = key })] };
        return SendAsync("DeleteTags", request, Ec2.DeleteTagsAsync, cancellationToken);
    }

    public async Task<IReadOnlyList<InstanceStateChange>> StopInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        if (instanceIds.Count == 0)
        {
            return [];
        }

        var answer = await SendAsync("StopInstances", new Sdk.StopInstancesRequest { InstanceIds = [.. instanceIds] }, Ec2.StopInstancesAsync, cancellationToken)
            .ConfigureAwait(false);
        return answer.StoppingInstances.OrEmpty().Select(ToStateChange).ToList();
    }

    public async Task<IReadOnlyList<InstanceStateChange>> TerminateInstancesAsync(IReadOnlyCollection<string> instanceIds, CancellationToken cancellationToken)
    {
        if (instanceIds.Count == 0)
        {
            return [];
        }

        var answer = await SendAsync("TerminateInstances", new Sdk.TerminateInstancesRequest { InstanceIds = [.. instanceIds] }, Ec2.TerminateInstancesAsync, cancellationToken)
            .ConfigureAwait(false);
        return answer.TerminatingInstances.OrEmpty().Select(ToStateChange).ToList();
    }

    public void Dispose()
    {
        if (_client.IsValueCreated)
        {
            _client.Value.Dispose();
        }
    }

    private async Task<IReadOnlyList<T>> PagesAsync<TRequest, TResponse, T>(
        string action,
        Func<string?, TRequest> request,
        Func<TRequest, CancellationToken, Task<TResponse>> call,
        Func<TResponse, (IEnumerable<T> Items, string? NextToken)> read,
        CancellationToken cancellationToken)
    {
        var results = new List<T>();
        string? nextToken = null;
        do
        {
            var answer = await SendAsync(action, request(nextToken), call, cancellationToken).ConfigureAwait(false);
            var (items, next) = read(answer);
            results.AddRange(items);
            nextToken = Xml.NextToken(nextToken, NullIfEmpty(next), action);
        }
        while (nextToken is not null);
        return results;
    }

    /// <summary>One call: a token from the action's bucket and the pipeline's retries around each SDK attempt.</summary>
    private Task<TResponse> SendAsync<TRequest, TResponse>(
        string action, TRequest request, Func<TRequest, CancellationToken, Task<TResponse>> call, CancellationToken cancellationToken) =>
        _pipeline.RunAsync(action, _rateLimits?.For(action), async ct =>
        {
            try
            {
                return await call(request, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is XmlException || (e is AmazonUnmarshallingException u && (int)u.StatusCode is >= 200 and < 300))
            {
                // A 2xx that is not EC2's XML (a captive portal, a misrouted proxy) is a fault worth naming, not a retry.
                // The SDK's unmarshaller lets the XmlException out as it is.
                throw new FormatException($"{action} answered with a body that is not EC2's XML: {e.Message}", e);
            }
        }, cancellationToken);

    private static List<Sdk.Filter>? ToFilters(IReadOnlyList<Ec2Filter> filters) =>
        filters.Count == 0 ? null : [.. filters.Select(f => new Sdk.Filter { Name = f.Name, Values = [.. f.Values] })];

    private static List<Sdk.Tag> ToSdkTags(IReadOnlyDictionary<string, string> tags) =>
        [.. tags.Select(t => new Sdk.Tag { Key = t.Key, Value = t.Value })];

    private static Dictionary<string, string> ToTags(List<Sdk.Tag>? tags)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in tags.OrEmpty())
        {
            if (!string.IsNullOrEmpty(tag.Key))
            {
                result[tag.Key] = tag.Value ?? string.Empty;
            }
        }

        return result;
    }

    private static Ec2Instance ToInstance(Sdk.Instance item) => new(
        Required(item.InstanceId, "instanceId"),
        Required(item.InstanceType?.Value, "instanceType"),
        NullIfEmpty(item.State?.Name?.Value) ?? "unknown",
        NullIfEmpty(item.VpcId),
        NullIfEmpty(item.SubnetId),
        NullIfEmpty(item.PrivateIpAddress),
        ToTags(item.Tags),
        [.. item.NetworkInterfaces.OrEmpty().Select(eni => new InstanceNetworkInterface(
            Required(eni.NetworkInterfaceId, "networkInterfaceId"),
            NullIfEmpty(eni.InterfaceType),
            eni.Attachment?.DeviceIndex ?? 0,
            NullIfEmpty(eni.SubnetId),
            NullIfEmpty(eni.PrivateIpAddress)))],
        item.LaunchTime is { } launched ? new DateTimeOffset(AsUtc(launched)) : null,
        NullIfEmpty(item.StateTransitionReason),
        NullIfEmpty(item.Placement?.AvailabilityZone));

    private static TrafficMirrorSession ToSession(Sdk.TrafficMirrorSession item) => new(
        Required(item.TrafficMirrorSessionId, "trafficMirrorSessionId"),
        Required(item.NetworkInterfaceId, "networkInterfaceId"),
        Required(item.TrafficMirrorTargetId, "trafficMirrorTargetId"),
        Required(item.TrafficMirrorFilterId, "trafficMirrorFilterId"),
        item.SessionNumber ?? throw new FormatException("traffic mirror session without sessionNumber"),
        item.VirtualNetworkId,
        item.PacketLength,
        NullIfEmpty(item.Description),
        ToTags(item.Tags),
        NullIfEmpty(item.OwnerId));

    private static InstanceStateChange ToStateChange(Sdk.InstanceStateChange item) => new(
        Required(item.InstanceId, "instanceId"),
        NullIfEmpty(item.PreviousState?.Name?.Value) ?? "unknown",
        NullIfEmpty(item.CurrentState?.Name?.Value) ?? "unknown");

    // The SDK reads EC2's ISO-8601 "Z" times as UTC; an unspecified kind is UTC too, never the machine's zone.
    private static DateTime AsUtc(DateTime time) => time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : DateTime.SpecifyKind(time, DateTimeKind.Utc);

    private static string Required(string? value, string name) =>
        NullIfEmpty(value) ?? throw new FormatException($"EC2 answer has no <{name}>");

    // EC2 writes an absent value as an empty element; the port's records say "absent" with null.
    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <summary>
/// Hands the SDK an HttpClient over the pipeline's handler: one connection pool for all four clients, and the
/// test recorders see exactly what the SDK puts on the wire. The SDK neither caches nor disposes it; the pipeline
/// owns the handler.
/// </summary>
internal sealed class SharedHandlerHttpClientFactory(HttpMessageHandler handler) : HttpClientFactory
{
    private readonly HttpClient _client = new(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

    public override HttpClient CreateHttpClient(IClientConfig clientConfig) => _client;

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;
}

internal static class SdkCollections
{
    /// <summary>The SDK leaves a list absent from the answer null (AWSConfigs.InitializeCollections is off by default).</summary>
    public static IEnumerable<T> OrEmpty<T>(this List<T>? list) => list ?? Enumerable.Empty<T>();
}
