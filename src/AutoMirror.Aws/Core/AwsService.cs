namespace AutoMirror.Aws;

internal enum AwsProtocol
{
    /// <summary>EC2's dialect of the Query protocol: flattened lists, capitalised locationNames, &lt;Response&gt; errors.</summary>
    Ec2Query,

    /// <summary>The plain Query protocol: Name.member.N lists, &lt;ErrorResponse&gt; errors.</summary>
    Query,

    Json10,
}

/// <summary>
/// What the pipeline must know about a service: where it lives, how it is signed and how it speaks.
/// <paramref name="EndpointVariableSuffix"/> is the service id as the AWS SDKs spell it in AWS_ENDPOINT_URL_&lt;ID&gt;.
/// </summary>
internal sealed record AwsService(
    string EndpointVariableSuffix,
    string EndpointPrefix,
    string SigningName,
    AwsProtocol Protocol,
    string ApiVersion,
    string? JsonTargetPrefix = null)
{
    public static readonly AwsService Ec2 = new("EC2", "ec2", "ec2", AwsProtocol.Ec2Query, "2016-11-15");

    public static readonly AwsService LoadBalancing =
        new("ELASTIC_LOAD_BALANCING_V2", "elasticloadbalancing", "elasticloadbalancing", AwsProtocol.Query, "2015-12-01");

    public static readonly AwsService StepFunctions = new("SFN", "states", "states", AwsProtocol.Json10, "2016-11-23", "AWSStepFunctions");

    public static readonly AwsService CloudWatch = new("CLOUDWATCH", "monitoring", "monitoring", AwsProtocol.Query, "2010-08-01");

    public static IReadOnlyList<AwsService> All { get; } = [Ec2, LoadBalancing, StepFunctions, CloudWatch];
}
