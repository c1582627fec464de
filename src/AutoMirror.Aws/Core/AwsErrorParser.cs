using System.Net;
using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using Amazon.Runtime;

namespace AutoMirror.Aws;

/// <summary>Reads an AWS error answer into code, message and request id, and decides whether it is worth a retry.</summary>
internal static class AwsErrorParser
{
    // The codes the AWS SDKs' standard retry mode treats as throttling (botocore's list).
    private static readonly HashSet<string> ThrottlingCodes = new(StringComparer.Ordinal)
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
        "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException",
    };

    private static readonly HashSet<string> TransientCodes = new(StringComparer.Ordinal)
    {
        "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable",
        "InternalServerError",
    };

    public static AwsFailure Parse(AwsProtocol protocol, HttpResponseMessage response, string body)
    {
        var status = response.StatusCode;
        var requestId = Header(response, "x-amzn-RequestId") ?? Header(response, "x-amz-request-id");
        var (code, message, bodyRequestId) = protocol == AwsProtocol.Json10 ? FromJson(body) : FromXml(body);

        // A proxy or load balancer may answer with HTML or nothing at all: name the status instead.
        code ??= Header(response, "x-amzn-ErrorType")?.Split(':')[0] ?? StatusName(status);
        message ??= string.IsNullOrWhiteSpace(body) ? $"HTTP {(int)status}" : Truncate(body);
        return new AwsFailure(Classify(code, status), code, message, requestId ?? bodyRequestId, status);
    }

    /// <summary>
    /// One attempt's exception as a classified failure: the hand-written clients' own, or the AWS SDK's
    /// (<see cref="AmazonServiceException"/> carries the service's code, message, request id and status). Null means
    /// "not an AWS failure": a bug or a malformed answer, raised as it is.
    /// </summary>
    public static AwsFailure? FromException(string operation, Exception exception) => exception switch
    {
        AwsFailureException own => own.Failure,

        // The SDK reports a connection that failed before any answer as a service exception without a status.
        HttpRequestException or AmazonServiceException { StatusCode: 0, InnerException: HttpRequestException } =>
            new AwsFailure(FailureKind.Transient, "ConnectionFailure", $"{operation} could not reach the endpoint: {exception.Message}", null, 0, exception),
        AmazonServiceException { StatusCode: var status } sdk when (int)status >= 400 || !string.IsNullOrEmpty(sdk.ErrorCode) => FromSdk(sdk),
        _ => null,
    };

    private static AwsFailure FromSdk(AmazonServiceException e)
    {
        // A proxy's HTML answer has no code: name the status, as Parse does.
        var code = string.IsNullOrEmpty(e.ErrorCode) ? StatusName(e.StatusCode) : e.ErrorCode;
        var message = string.IsNullOrEmpty(e.Message) ? $"HTTP {(int)e.StatusCode}" : e.Message;
        return new AwsFailure(Classify(code, e.StatusCode), code, message, string.IsNullOrEmpty(e.RequestId) ? null : e.RequestId, e.StatusCode, e);
    }

    public static FailureKind Classify(string code, HttpStatusCode status)
    {
        if (ThrottlingCodes.Contains(code) || status == HttpStatusCode.TooManyRequests)
        {
            return FailureKind.Throttled;
        }

        return TransientCodes.Contains(code) || (int)status >= 500 ? FailureKind.Transient : FailureKind.Permanent;
    }

    private static (string? Code, string? Message, string? RequestId) FromXml(string body)
    {
        XElement root;
        try
        {
            root = XElement.Parse(body);
        }
        catch (XmlException)
        {
            return (null, null, null);
        }

        // EC2: <Response><Errors><Error>…</Error></Errors><RequestID/>; Query: <ErrorResponse><Error>…</Error><RequestId/>.
        var error = root.Descendants().FirstOrDefault(e => e.Name.LocalName == "Error");
        var requestId = root.Elements().FirstOrDefault(e => e.Name.LocalName is "RequestID" or "RequestId")?.Value;
        return (error.Text("Code"), error.Text("Message"), requestId);
    }

    private static (string? Code, string? Message, string? RequestId) FromJson(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, null, null);
            }

            string? code = root.TryGetProperty("__type", out var type) ? type.GetString() : null;

            // "com.amazonaws.sfn#ExecutionDoesNotExist" or "ExecutionDoesNotExist:http://…": keep the bare name.
            code = code?.Split('#')[^1].Split(':')[0];
            string? message = null;
            foreach (var name in (string[])["message", "Message", "errorMessage"])
            {
                if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
                {
                    message = value.GetString();
                    break;
                }
            }

            return (code, message, null);
        }
        catch (JsonException)
        {
            return (null, null, null);
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static string StatusName(HttpStatusCode status) =>
        Enum.IsDefined(status) ? status.ToString() : $"Http{(int)status}";

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200];
}
