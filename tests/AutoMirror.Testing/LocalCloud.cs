using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace AutoMirror.Testing;

/// <summary>
/// One local cloud (moto + AutoMirror's extension) per test class fixture, on a free loopback port.
/// Tests point AWS clients at <see cref="Endpoint"/> the way users do: through AWS_ENDPOINT_URL.
/// </summary>
public sealed class LocalCloud : IAsyncLifetime, IDisposable
{
    private Process? _process;

    public Uri Endpoint { get; private set; } = new("http://127.0.0.1:0");

    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        Port = FreePort();
        Endpoint = new Uri($"http://127.0.0.1:{Port}");
        var start = new ProcessStartInfo("python3", $"-m automirror_localcloud --host 127.0.0.1 --port {Port}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["PYTHONPATH"] = Path.Combine(RepositoryRoot.Path, "localcloud");
        _process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the local cloud exited with code {_process.ExitCode}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Endpoint, "/moto-api/data.json"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the local cloud did not answer on {Endpoint} within 30 s");
    }

    /// <summary>Forgets every resource, so each test starts from an empty account.</summary>
    public async Task ResetAsync()
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(new Uri(Endpoint, "/moto-api/reset"), null);
        response.EnsureSuccessStatusCode();
    }

    public Task DisposeAsync()
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process?.Dispose();
        _process = null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
