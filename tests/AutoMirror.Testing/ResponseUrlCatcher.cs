using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AutoMirror.Testing;

/// <summary>
/// A CloudFormation custom resource's ResponseURL on loopback: accepts the PUT a function sends there (on AWS, to a
/// presigned S3 URL) and keeps each body, so a test reads what CloudFormation would have received.
/// </summary>
public sealed class ResponseUrlCatcher : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<string> _bodies = [];
    private readonly Task _loop;

    private ResponseUrlCatcher(int port)
    {
        Url = new Uri($"http://127.0.0.1:{port}/cfn-response/");
        _listener.Prefixes.Add(Url.ToString());
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public Uri Url { get; }

    public IReadOnlyList<string> Bodies
    {
        get
        {
            lock (_bodies)
            {
                return [.. _bodies];
            }
        }
    }

    public static ResponseUrlCatcher Start()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return new ResponseUrlCatcher(port);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
            {
                var body = await reader.ReadToEndAsync();
                lock (_bodies)
                {
                    _bodies.Add(body);
                }
            }

            context.Response.StatusCode = context.Request.HttpMethod == "PUT" ? 200 : 405;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends with the listener; its exception is the stop itself.
        }
    }
}
