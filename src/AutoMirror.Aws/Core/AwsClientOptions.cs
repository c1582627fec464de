using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.Util;

namespace AutoMirror.Aws;

/// <summary>
/// Everything the clients need, resolved once: region, credentials, endpoint overrides, retry and transport.
/// <see cref="FromEnvironment"/> reads it the way every AWS SDK does.
/// </summary>
public sealed record AwsClientOptions
{
    public required RegionEndpoint Region { get; init; }

    /// <summary>Asked for fresh keys on every signature, so refreshing sources (container, IMDS) keep working.</summary>
    public required AWSCredentials Credentials { get; init; }

    /// <summary>AWS_ENDPOINT_URL: one endpoint for every service (a local cloud, a proxy).</summary>
    public Uri? EndpointUrl { get; init; }

    /// <summary>AWS_ENDPOINT_URL_&lt;ID&gt; keyed by ID (EC2, ELASTIC_LOAD_BALANCING_V2, SFN, CLOUDWATCH); wins over <see cref="EndpointUrl"/>.</summary>
    public IReadOnlyDictionary<string, Uri> ServiceEndpointUrls { get; init; } = new Dictionary<string, Uri>();

    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>Wait for a token in EC2's documented per-action buckets before sending (off only for tests of the server's own throttling).</summary>
    public bool ClientSideRateLimit { get; init; } = true;

    /// <summary>
    /// Whether CreateTrafficMirrorSession's bucket shrinks on AWS's throttles (<see cref="Ec2.Ec2RateLimits.Adapts"/>).
    /// Right for a function that runs as many containers at once, each with a few sessions to make (the attach steps
    /// in a launch burst): together they settle under EC2's 5/s. Off for a process that runs alone with many sessions
    /// to make (the scheduled reconcile): it keeps EC2's rate and meets a throttle with the retry's backoff, instead of
    /// shrinking to a share sized for dozens of containers and outliving its timeout.
    /// </summary>
    public bool AdaptiveCreateRate { get; init; } = true;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Source of the backoff jitter, a number in [0, 1).</summary>
    public Func<double> Jitter { get; init; } = Random.Shared.NextDouble;

    /// <summary>The innermost transport; null uses one pooled SocketsHttpHandler per <see cref="AwsClients"/>.</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>
    /// True when these options were read from the process environment: the AWS SDK clients (EC2) then read
    /// AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS themselves, as every AWS SDK
    /// does, instead of being handed <see cref="EndpointUrl"/>. The hand-written clients always use <see cref="EndpointFor"/>.
    /// </summary>
    public bool SdkReadsEndpointVariables { get; init; }

    /// <summary>The configured override for a service (its own variable first, then the global one), or null.</summary>
    internal Uri? EndpointOverrideFor(AwsService service) =>
        ServiceEndpointUrls.TryGetValue(service.EndpointVariableSuffix, out var serviceUrl) ? serviceUrl : EndpointUrl;

    internal Uri EndpointFor(AwsService service)
    {
        if (EndpointOverrideFor(service) is { } overridden)
        {
            return overridden;
        }

        // RegionEndpoint carries the partition: amazonaws.com for aws and aws-us-gov, amazonaws.com.cn for aws-cn.
        return new Uri($"https://{service.EndpointPrefix}.{Region.SystemName}.{Region.PartitionDnsSuffix}/");
    }

    /// <summary>
    /// Region from AWS_REGION, then AWS_DEFAULT_REGION, then instance metadata; credentials from the SDK's default
    /// chain (environment, web identity, profile, container, IMDSv2); endpoints from AWS_ENDPOINT_URL[_&lt;ID&gt;]
    /// unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true. Missing pieces raise one <see cref="AwsConfigurationException"/>.
    /// </summary>
    /// <param name="variable">Environment lookup; defaults to the process environment.</param>
    /// <param name="instanceMetadataRegion">Region lookup of last resort; defaults to IMDS.</param>
    /// <param name="credentials">Credential source; defaults to the SDK's default chain.</param>
    public static AwsClientOptions FromEnvironment(
        Func<string, string?>? variable = null,
        Func<string?>? instanceMetadataRegion = null,
        Func<AWSCredentials>? credentials = null)
    {
        // The SDK clients read the process environment themselves; a lookup given here is what they cannot see.
        var processEnvironment = variable is null;
        variable ??= Environment.GetEnvironmentVariable;
        instanceMetadataRegion ??= () => EC2InstanceMetadata.Region?.SystemName;
        credentials ??= () => new DefaultAWSCredentialsIdentityResolver().ResolveIdentity(clientConfig: null);

        var missing = new List<string>();
        var regionName = NonEmpty(variable("AWS_REGION")) ?? NonEmpty(variable("AWS_DEFAULT_REGION")) ?? NonEmpty(instanceMetadataRegion());
        if (regionName is null)
        {
            missing.Add("a region (set AWS_REGION or AWS_DEFAULT_REGION; instance metadata gave none)");
        }

        AWSCredentials? resolved = null;
        Exception? credentialError = null;
        try
        {
            resolved = credentials();
        }
        catch (AmazonClientException e)
        {
            credentialError = e;
            missing.Add("credentials (the default chain found none: environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, web identity, profile, container or instance metadata)");
        }

        if (missing.Count > 0)
        {
            throw new AwsConfigurationException("AWS configuration is missing " + string.Join(" and ", missing) + ".", credentialError);
        }

        var ignoreEndpoints = string.Equals(NonEmpty(variable("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")), "true", StringComparison.OrdinalIgnoreCase);
        var serviceUrls = new Dictionary<string, Uri>(StringComparer.Ordinal);
        Uri? endpointUrl = null;
        if (!ignoreEndpoints)
        {
            endpointUrl = EndpointVariable(variable, "AWS_ENDPOINT_URL");
            foreach (var service in AwsService.All)
            {
                if (EndpointVariable(variable, "AWS_ENDPOINT_URL_" + service.EndpointVariableSuffix) is { } url)
                {
                    serviceUrls[service.EndpointVariableSuffix] = url;
                }
            }
        }

        return new AwsClientOptions
        {
            Region = RegionEndpoint.GetBySystemName(regionName),
            Credentials = resolved!,
            EndpointUrl = endpointUrl,
            ServiceEndpointUrls = serviceUrls,
            SdkReadsEndpointVariables = processEnvironment,
        };
    }

    private static Uri? EndpointVariable(Func<string, string?> variable, string name)
    {
        var value = NonEmpty(variable(name));
        if (value is null)
        {
            return null;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new AwsConfigurationException($"{name} must be an absolute http(s) URL, got '{value}'.");
        }

        return uri;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
