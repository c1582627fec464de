using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using AutoMirror.Aws;
using AutoMirror.Core.Logging;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// What every handler does around its one Core call: read the payload, set the correlation id for every log line,
/// give the call a token that fires before the function's time runs out, write the answer. The runtime's Stream
/// contract carries no remaining time, so the budget is the configured timeout (FUNCTION_TIMEOUT_SECONDS) less a
/// margin to unwind and answer: a call cut by it ends as TransientServiceException, which every workflow Task
/// retries, instead of the runtime killing the function mid-call with an error no Retry names.
/// </summary>
internal static class Invocation
{
    public static async Task<Stream> RunAsync<TIn, TOut>(
        Stream input,
        Func<byte[], TIn> parse,
        Func<TOut, byte[]> write,
        TimeSpan? timeout,
        Func<TIn, string?> correlationId,
        Func<TIn, CancellationToken, Task<TOut>> call)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var buffer = new MemoryStream();
        await input.CopyToAsync(buffer).ConfigureAwait(false);
        var request = parse(buffer.ToArray());
        using var scope = Correlation.Begin(correlationId(request));
        using var deadline = timeout is { } t ? new CancellationTokenSource(Budget(t)) : new CancellationTokenSource();
        try
        {
            var result = await call(request, deadline.Token).ConfigureAwait(false);
            return new MemoryStream(write(result), writable: false);
        }
        catch (OperationCanceledException e) when (deadline.IsCancellationRequested)
        {
            throw new TransientServiceException("FunctionDeadline",
                $"stopped {Margin(timeout!.Value).TotalSeconds:0.#} s before the function's {timeout.Value.TotalSeconds:0} s timeout; the workflow retries",
                null, HttpStatusCode.GatewayTimeout, e);
        }
    }

    /// <summary>Deserializes a payload; anything unusable is an <see cref="InvalidPayloadException"/> naming the type.</summary>
    public static Func<byte[], T> Read<T>(JsonTypeInfo<T> typeInfo) => payload =>
    {
        try
        {
            return JsonSerializer.Deserialize(payload, typeInfo)
                ?? throw new InvalidPayloadException($"the payload is null, expected a {typeof(T).Name} object");
        }
        catch (JsonException e)
        {
            throw new InvalidPayloadException($"the payload is not a valid {typeof(T).Name}: {e.Message}");
        }
    };

    public static Func<T, byte[]> Write<T>(JsonTypeInfo<T> typeInfo) => value => JsonSerializer.SerializeToUtf8Bytes(value, typeInfo);

    public static TimeSpan Budget(TimeSpan timeout) => timeout - Margin(timeout);

    /// <summary>
    /// A tenth of the timeout, at least 1 s and at most 5 s (never more than half): time to log, answer and let the
    /// runtime report before Lambda ends the invocation.
    /// </summary>
    public static TimeSpan Margin(TimeSpan timeout) =>
        TimeSpan.FromTicks(Math.Min(timeout.Ticks / 2, Math.Clamp(timeout.Ticks / 10, TimeSpan.TicksPerSecond, 5 * TimeSpan.TicksPerSecond)));
}
