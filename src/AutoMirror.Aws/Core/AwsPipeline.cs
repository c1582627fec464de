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
    private readonly HttpMessageHandler _handler;
    private readonly HttpClient _http;

    public AwsPipeline(AwsClientOptions options)
    {
        _options = options;
        _handler = options.Handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };

        // The handler is shared with the EC2 SDK client's HttpClient (one connection pool); it is disposed below,
        // and only when it is ours: caller-supplied handlers belong to the caller.
        _http = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("automirror", "1.0"));
    }

    public AwsClientOptions Options => _options;

    /// <summary>The innermost transport, for SDK clients that should share this pipeline's connections (and tests' recorders).</summary>
    public HttpMessageHandler Handler => _handler;

    public Task<string> SendQueryAsync(AwsService service, string operation, byte[] body, TokenBucket? bucket, CancellationToken cancellationToken) =>
        SendAsync(service, operation, body, QueryContentType, target: null, bucket, cancellationToken);

    public Task<string> SendJsonAsync(AwsService service, string operation, byte[] body, CancellationToken cancellationToken) =>
        SendAsync(service, operation, body, JsonContentType, $"{service.JsonTargetPrefix}.{operation}", bucket: null, cancellationToken);

    /// <summary>
    /// The retry loop every client shares, hand-written or SDK: a token from <paramref name="bucket"/> per attempt,
    /// each attempt bounded by <see cref="RetryPolicy.AttemptTimeout"/>, failures classified by
    /// <see cref="AwsErrorParser.Classify"/>, throttling and transient ones retried with jittered backoff on
    /// <see cref="AwsClientOptions.TimeProvider"/>. The caller's cancellation is passed through, never retried.
    /// </summary>
    public async Task<T> RunAsync<T>(string operation, TokenBucket? bucket, Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        var policy = _options.Retry;
        for (var attemptNumber = 1; ; attemptNumber++)
        {
            if (bucket is not null)
            {
                await bucket.AcquireAsync(cancellationToken).ConfigureAwait(false);
            }

            AwsFailure error;
            using (var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                attemptTimeout.CancelAfter(policy.AttemptTimeout);
                try
                {
                    var answer = await attempt(attemptTimeout.Token).ConfigureAwait(false);
                    bucket?.OnAccepted();
                    return answer;
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    error = new AwsFailure(FailureKind.Transient, "RequestTimeout",
                        $"{operation} got no answer within {policy.AttemptTimeout.TotalSeconds:0.###} s", null, HttpStatusCode.RequestTimeout, e);
                }
                catch (Exception e) when (AwsErrorParser.FromException(operation, e) is { } failure)
                {
                    error = failure;
                }
            }

            if (error.Kind == FailureKind.Throttled)
            {
                bucket?.OnThrottled();
            }

            if (error.Kind == FailureKind.Permanent || attemptNumber >= policy.MaxAttempts)
            {
                throw error.ToException();
            }

            var delay = policy.Delay(attemptNumber, error.Kind == FailureKind.Throttled, _options.Jitter());
            await Task.Delay(delay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<string> SendAsync(
        AwsService service, string operation, byte[] body, string contentType, string? target, TokenBucket? bucket, CancellationToken cancellationToken)
    {
        var endpoint = _options.EndpointFor(service);
        return RunAsync(operation, bucket, ct => AttemptAsync(service, endpoint, operation, body, contentType, target, ct), cancellationToken);
    }

    private async Task<string> AttemptAsync(
        AwsService service, Uri endpoint, string operation, byte[] body, string contentType, string? target, CancellationToken cancellationToken)
    {
        try
        {
            // Signed per attempt: the signature carries the time, and a retry may come minutes later.
            using var request = await SignedRequestAsync(service, endpoint, body, contentType, target, cancellationToken).ConfigureAwait(false);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return text;
            }

            throw new AwsFailureException(AwsErrorParser.Parse(service.Protocol, response, text));
        }
        catch (HttpRequestException e)
        {
            throw new AwsFailureException(new AwsFailure(FailureKind.Transient, "ConnectionFailure",
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

    public void Dispose()
    {
        _http.Dispose();
        if (_options.Handler is null)
        {
            _handler.Dispose();
        }
    }
}

/// <summary>An attempt's failure, already classified, on its way from an attempt to <see cref="AwsPipeline.RunAsync"/>.</summary>
internal sealed class AwsFailureException(AwsFailure failure) : Exception(failure.Message, failure.Inner)
{
    public AwsFailure Failure { get; } = failure;
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
