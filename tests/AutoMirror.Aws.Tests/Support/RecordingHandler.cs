using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace AutoMirror.Aws.Tests.Support;

public sealed record CapturedRequest(HttpMethod Method, Uri Uri, IReadOnlyDictionary<string, string> Headers, string Body)
{
    /// <summary>The Query form body as name → value, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Form =>
        Body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Select(parts => new KeyValuePair<string, string>(Uri.UnescapeDataString(parts[0]), Uri.UnescapeDataString(parts.Length > 1 ? parts[1] : "")))
            .ToList();

    public string? Operation =>
        Headers.TryGetValue("X-Amz-Target", out var target) ? target.Split('.')[^1] : Form.FirstOrDefault(p => p.Key == "Action").Value;

    public string? Param(string name) => Form.Where(p => p.Key == name).Select(p => p.Value).FirstOrDefault();
}

/// <summary>Records every request and answers from a script, as the transport under the real pipeline.</summary>
public sealed class RecordingHandler(Func<CapturedRequest, int, CancellationToken, Task<HttpResponseMessage>> respond) : HttpMessageHandler
{
    private int _count;

    public RecordingHandler(Func<CapturedRequest, int, HttpResponseMessage> respond)
        : this((request, n, _) => Task.FromResult(respond(request, n)))
    {
    }

    public ConcurrentQueue<CapturedRequest> Requests { get; } = new();

    public int Count => Volatile.Read(ref _count);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
            .ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        var captured = new CapturedRequest(request.Method, request.RequestUri!, headers, body);
        Requests.Enqueue(captured);
        var n = Interlocked.Increment(ref _count);
        return await respond(captured, n, cancellationToken);
    }

    public static HttpResponseMessage Xml(string xml, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(xml, Encoding.UTF8, "text/xml") };

    public static HttpResponseMessage Json(string json, HttpStatusCode status = HttpStatusCode.OK) =>
        new(status) { Content = new StringContent(json, Encoding.UTF8, "application/x-amz-json-1.0") };

    public static HttpResponseMessage Ec2Error(string code, string message, string requestId, HttpStatusCode status) =>
        Xml($"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{requestId}</RequestID></Response>", status);

    public static HttpResponseMessage QueryError(string code, string message, string requestId, HttpStatusCode status) =>
        Xml($"<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{requestId}</RequestId></ErrorResponse>", status);
}
