using System.Net;

namespace AutoMirror.Aws;

/// <summary>An error answered by an AWS service, with the service's own error code.</summary>
public class AwsServiceException(string errorCode, string message, string? requestId, HttpStatusCode statusCode, Exception? inner = null)
    : Exception($"{errorCode}: {message}", inner)
{
    public string ErrorCode { get; } = errorCode;
    public string ServiceMessage { get; } = message;
    public string? RequestId { get; } = requestId;
    public HttpStatusCode StatusCode { get; } = statusCode;
}

/// <summary>
/// The service kept throttling after the client's bounded retries. Its type name is the error name a Step
/// Functions Retry matches (the .NET Lambda runtime reports an exception's type name as errorType).
/// </summary>
public sealed class ThrottledException(string errorCode, string message, string? requestId, HttpStatusCode statusCode, Exception? inner = null)
    : AwsServiceException(errorCode, message, requestId, statusCode, inner);

/// <summary>A 5xx answer or a timeout that outlived the client's bounded retries.</summary>
public sealed class TransientServiceException(string errorCode, string message, string? requestId, HttpStatusCode statusCode, Exception? inner = null)
    : AwsServiceException(errorCode, message, requestId, statusCode, inner);

/// <summary>Region, credentials or an endpoint override is missing or malformed; names what is missing.</summary>
public sealed class AwsConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
