using System.Net;
using System.Net.Http.Headers;
using Amazon.Runtime.Signing;

namespace AutoMirror.Aws;

/// <summary>
/// The one transport every client shares: rate limit, sign, send, classify the answer, retry with backoff.
/// A per-service copy of this loop would drift; the clients only build bodies and read answers.
/// </summary>
internal sealed class AwsPipeline : IDisposable
{
    private const string QueryContentType = "application/x-www-form-urlencoded; charset=utf-8";
    private const string JsonContentType = "application/x-amz-json-1.0";

    private readonly AwsClientOptions _options;
    private readonly HttpClient _http;

    public AwsPipeline(AwsClientOptions options)
    {
        _options = options;
        var handler = options.Handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };

        // Caller-supplied handlers belong to the caller; the default one is ours to dispose.
        _http = new HttpClient(handler, disposeHandler: options.Handler is null) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("automirror", "1.0"));
    }

    public AwsClientOptions Options => _options;

    public Task<string> SendQueryAsync(AwsService service, string operation, byte[] body, TokenBucket? bucket, CancellationToken cancellationToken) =>
        SendAsync(service, operation, body, QueryContentType, target: null, bucket, cancellationToken);

    public Task<string> SendJsonAsync(AwsService service, string operation, byte[] body, CancellationToken cancellationToken) =>
        SendAsync(service, operation, body, JsonContentType, $"{service.JsonTargetPrefix}.{operation}", bucket: null, cancellationToken);

    private async Task<string> SendAsync(
        AwsService service, string operation, byte[] body, string contentType, string? target, TokenBucket? bucket, CancellationToken cancellationToken)
    {
        var policy = _options.Retry;
        var endpoint = _options.EndpointFor(service);
        for (var attempt = 1; ; attempt++)
        {
            if (bucket is not null)
            {
                await bucket.AcquireAsync(cancellationToken).ConfigureAwait(false);
            }

            var outcome = await AttemptAsync(service, endpoint, operation, body, contentType, target, cancellationToken).ConfigureAwait(false);
            if (outcome.Body is { } answer)
            {
                return answer;
            }

            var error = outcome.Error!;
            if (error.Kind == FailureKind.Permanent || attempt >= policy.MaxAttempts)
            {
                throw error.ToException();
            }

            var delay = policy.Delay(attempt, error.Kind == FailureKind.Throttled, _options.Jitter());
            await Task.Delay(delay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<AttemptResult> AttemptAsync(
        AwsService service, Uri endpoint, string operation, byte[] body, string contentType, string? target, CancellationToken cancellationToken)
    {
        using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attemptTimeout.CancelAfter(_options.Retry.AttemptTimeout);
        try
        {
            // Signed per attempt: the signature carries the time, and a retry may come minutes later.
            using var request = await SignedRequestAsync(service, endpoint, body, contentType, target, attemptTimeout.Token).ConfigureAwait(false);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, attemptTimeout.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(attemptTimeout.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return new AttemptResult(text, null);
            }

            return new AttemptResult(null, AwsErrorParser.Parse(service.Protocol, response, text));
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return new AttemptResult(null, new AwsFailure(FailureKind.Transient, "RequestTimeout",
                $"{operation} got no answer within {_options.Retry.AttemptTimeout.TotalSeconds:0.###} s", null, HttpStatusCode.RequestTimeout, e));
        }
        catch (HttpRequestException e)
        {
            return new AttemptResult(null, new AwsFailure(FailureKind.Transient, "ConnectionFailure",
                $"{operation} could not reach {endpoint}: {e.Message}", null, 0, e));
        }
    }

    private async Task<HttpRequestMessage> SignedRequestAsync(
        AwsService service, Uri endpoint, byte[] body, string contentType, string? target, CancellationToken cancellationToken)
    {
        var signing = new AWSSigningRequest { HttpMethod = HttpMethod.Post, RequestUri = endpoint, Content = body };
        signing.Headers["Content-Type"] = contentType;
        if (target is not null)
        {
            signing.Headers["X-Amz-Target"] = target;
        }

        var parameters = new AWSSigV4Parameters
        {
            Credentials = _options.Credentials,
            Region = _options.Region,
            Service = service.SigningName,
            SignPayload = true,
            SignedAt = _options.TimeProvider.GetUtcNow().UtcDateTime,
        };
        var signed = await AWSSigV4Signer.SignAsync(signing, parameters, cancellationToken).ConfigureAwait(false);

        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };

        // Added without validation so the bytes sent are exactly the bytes signed.
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        if (target is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
        }

        foreach (var (name, value) in signed.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    public void Dispose() => _http.Dispose();

    private sealed record AttemptResult(string? Body, AwsFailure? Error);
}

internal enum FailureKind
{
    Permanent,
    Throttled,
    Transient,
}

internal sealed record AwsFailure(FailureKind Kind, string Code, string Message, string? RequestId, HttpStatusCode Status, Exception? Inner = null)
{
    public AwsServiceException ToException() => Kind switch
    {
        FailureKind.Throttled => new ThrottledException(Code, Message, RequestId, Status, Inner),
        FailureKind.Transient => new TransientServiceException(Code, Message, RequestId, Status, Inner),
        _ => new AwsServiceException(Code, Message, RequestId, Status, Inner),
    };
}
