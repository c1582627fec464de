using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace AutoMirror.Testing;

/// <summary>
/// Sits between the local Step Functions interpreter and the local Lambda host and forwards every Invoke, except the
/// next <c>n</c> invocations of a function it was told to fail: those are answered as a failed invocation whose error
/// is the name Step Functions gives the state's error on AWS (for example <c>Lambda.ServiceException</c>). The
/// interpreter names a state's error after the answer's <c>errorType</c> (aws-local-stepfunctions; an HTTP 500 from
/// the Lambda API would reach it under the SDK's name <c>ServiceException</c>, which AWS never shows a state), so this
/// is the form that makes the ASL's Retry and Catch see what they see on AWS.
/// </summary>
public sealed partial class LambdaFaultProxy : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromMinutes(2) };
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _faults = new(StringComparer.Ordinal);
    private readonly Task _serving;
    private readonly CancellationTokenSource _stop = new();

    private LambdaFaultProxy(Uri upstream, int port)
    {
        Upstream = upstream;
        Address = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Address.ToString());
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public Uri Address { get; }

    /// <summary>Where invocations are forwarded; settable because the host may start after the proxy.</summary>
    public Uri Upstream { get; set; }

    public static LambdaFaultProxy Start(Uri upstream)
    {
        // A free loopback port: HttpListener cannot bind port 0 itself.
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new LambdaFaultProxy(upstream, port);
    }

    /// <summary>The next <paramref name="times"/> invocations of <paramref name="function"/> fail with <paramref name="error"/>.</summary>
    public void Fail(string function, string error, int times = 1)
    {
        var queue = _faults.GetOrAdd(function, _ => new ConcurrentQueue<string>());
        for (var i = 0; i < times; i++)
        {
            queue.Enqueue(error);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _serving;
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or OperationCanceledException)
        {
        }

        _listener.Close();
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        using var response = context.Response;
        try
        {
            using var reader = new StreamReader(context.Request.InputStream);
            var body = await reader.ReadToEndAsync();
            var path = context.Request.Url!.AbsolutePath;
            var function = Invocation().Match(path) is { Success: true } m ? Uri.UnescapeDataString(m.Groups[1].Value).Split(':')[^1] : null;
            if (function is not null && _faults.TryGetValue(function, out var queue) && queue.TryDequeue(out var error))
            {
                // A failed invocation as Lambda answers it: 200, X-Amz-Function-Error, {"errorType","errorMessage"}.
                response.StatusCode = 200;
                response.AddHeader("X-Amz-Function-Error", "Unhandled");
                await WriteAsync(response, $$"""{"errorType":"{{error}}","errorMessage":"injected by the test: {{error}}"}""");
                return;
            }

            using var forward = new HttpRequestMessage(new HttpMethod(context.Request.HttpMethod), new Uri(Upstream, context.Request.Url.PathAndQuery))
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            using var answer = await _http.SendAsync(forward);
            response.StatusCode = (int)answer.StatusCode;
            foreach (var (name, values) in answer.Headers)
            {
                if (name.StartsWith("X-Amz", StringComparison.OrdinalIgnoreCase) || name.StartsWith("x-amzn", StringComparison.OrdinalIgnoreCase))
                {
                    response.AddHeader(name, string.Join(",", values));
                }
            }

            await WriteAsync(response, await answer.Content.ReadAsStringAsync());
        }
        catch (Exception e) when (e is HttpRequestException or IOException or HttpListenerException)
        {
            response.StatusCode = 502;
        }
    }

    private static async Task WriteAsync(HttpListenerResponse response, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
    }

    [GeneratedRegex(@"^/2015-03-31/functions/([^/]+)/invocations$")]
    private static partial Regex Invocation();
}
