using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xunit;

namespace AutoMirror.Testing;

/// <summary>
/// One local cloud (moto + AutoMirror's extension) per test class fixture, on a loopback port the
/// system picks. Tests point AWS clients at <see cref="Endpoint"/> the way users do: through
/// AWS_ENDPOINT_URL (see <see cref="ClientEnvironment"/>). The control endpoint under
/// <c>/_automirror/</c> is reached through the typed helpers below.
/// </summary>
public sealed class LocalCloud : IAsyncLifetime, IDisposable
{
    public const string Region = "us-east-1";
    public const string AccountId = "123456789012";

    private const string ReadyPrefix = "automirror-localcloud ready ";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly TaskCompletionSource<Uri> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly OutputTail _stderr = new();
    private Process? _process;
    private HttpClient? _http;

    public Uri Endpoint { get; private set; } = new("http://127.0.0.1:0");

    public int Port { get; private set; }

    /// <summary>What an AWS client process needs to talk to this cloud with dummy credentials.</summary>
    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string>
    {
        ["AWS_ENDPOINT_URL"] = Endpoint.ToString().TrimEnd('/'),
        ["AWS_REGION"] = Region,
        ["AWS_DEFAULT_REGION"] = Region,
        ["AWS_ACCESS_KEY_ID"] = "testing",
        ["AWS_SECRET_ACCESS_KEY"] = "testing",
    };

    /// <summary>Extra AUTOMIRROR_* variables for the server process (seed, throttling, time scale) set before start.</summary>
    public IDictionary<string, string> StartupEnvironment { get; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        // Port 0: the server binds a free port itself and prints it on its readiness line, so
        // two fixtures starting at once cannot race for the same port.
        var start = new ProcessStartInfo("python3", "-m automirror_localcloud --host 127.0.0.1 --port 0")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["PYTHONPATH"] = Path.Combine(RepositoryRoot.Path, "localcloud");
        foreach (var (name, value) in StartupEnvironment)
        {
            start.Environment[name] = value;
        }

        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnOutput(e.Data);
        _process.ErrorDataReceived += (_, e) => _stderr.Add(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(
            new InvalidOperationException($"the local cloud exited before it was ready: {StandardError}"));
        if (!_process.Start())
        {
            throw new InvalidOperationException("python3 did not start");
        }

        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            Endpoint = await _ready.Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"the local cloud printed no readiness line within {StartTimeout.TotalSeconds} s: {StandardError}");
        }

        Port = Endpoint.Port;
        _http = new HttpClient { BaseAddress = Endpoint, Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>Forgets every resource and every control setting made since start, so each test starts from an empty account.</summary>
    public async Task ResetAsync(CancellationToken cancellationToken = default)
        => await PostAsync("reset", new { }, cancellationToken);

    /// <summary>Turns EC2-shaped token buckets on (or off). Buckets left null keep EC2's sizes.</summary>
    public async Task ConfigureThrottlingAsync(ThrottlingSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var buckets = new Dictionary<string, BucketSettings>();
        if (settings.NonMutating is { } nonMutating)
        {
            buckets["nonMutating"] = nonMutating;
        }

        if (settings.Mutating is { } mutating)
        {
            buckets["mutating"] = mutating;
        }

        if (settings.Tags is { } tags)
        {
            buckets["tags"] = tags;
        }

        await PostAsync(
            "throttling",
            new { enabled = settings.Enabled, buckets, actions = settings.Actions, timeScale = settings.TimeScale },
            cancellationToken);
    }

    /// <summary>Seeded random faults; the same seed and the same sequential calls give the same faults.</summary>
    public async Task ConfigureFaultsAsync(FaultSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        await PostAsync("faults", settings, cancellationToken);
    }

    /// <summary>The next calls of <paramref name="action"/> fail with these codes, in order (RequestLimitExceeded, InternalError, Unavailable, ...).</summary>
    public async Task ScriptErrorsAsync(string action, IEnumerable<string> errorCodes, CancellationToken cancellationToken = default)
        => await PostAsync("faults/script", new { action, errors = errorCodes.ToArray() }, cancellationToken);

    /// <summary>Simulated seconds per real second for token refill and eventual consistency; 0 freezes time.</summary>
    public async Task SetTimeScaleAsync(double scale, CancellationToken cancellationToken = default)
        => await PostAsync("clock", new { scale }, cancellationToken);

    public async Task AdvanceClockAsync(TimeSpan by, CancellationToken cancellationToken = default)
        => await PostAsync("clock", new { advanceSeconds = by.TotalSeconds }, cancellationToken);

    /// <summary>The target group reports <paramref name="unhealthyCalls"/> DescribeTargetHealth answers as unhealthy, then <paramref name="thenState"/>.</summary>
    public async Task SetTargetHealthAsync(string targetGroupArn, int unhealthyCalls, string thenState = "healthy", CancellationToken cancellationToken = default)
        => await PostAsync("target-health", new { targetGroupArn, unhealthyCalls, thenState }, cancellationToken);

    /// <summary>
    /// Only <paramref name="targetIds"/> report <paramref name="unhealthyCalls"/> answers as unhealthy, then
    /// <paramref name="thenState"/>; the group's other targets keep the local cloud's own answer.
    /// </summary>
    public async Task SetTargetHealthOfAsync(string targetGroupArn, IReadOnlyList<string> targetIds, int unhealthyCalls, string thenState = "healthy", CancellationToken cancellationToken = default)
        => await PostAsync("target-health", new { targetGroupArn, targetIds, unhealthyCalls, thenState }, cancellationToken);

    /// <summary>The target group reports this state (initial, healthy, unhealthy, unused, draining, unavailable) until cleared.</summary>
    public async Task SetFixedTargetHealthAsync(string targetGroupArn, string state, CancellationToken cancellationToken = default)
        => await PostAsync("target-health", new { targetGroupArn, state }, cancellationToken);

    public async Task ClearTargetHealthAsync(string targetGroupArn, CancellationToken cancellationToken = default)
        => await PostAsync("target-health", new { targetGroupArn, clear = true }, cancellationToken);

    /// <summary>API calls received since start or the last reset, per service signing name ("ec2", "elasticloadbalancing") and action.</summary>
    public async Task<CallCounts> GetCallCountsAsync(CancellationToken cancellationToken = default)
    {
        var http = Http;
        using var response = await http.GetAsync(new Uri("/_automirror/calls", UriKind.Relative), cancellationToken);
        await EnsureControlSuccessAsync(response, "calls", cancellationToken);
        return await response.Content.ReadFromJsonAsync<CallCounts>(Json, cancellationToken)
            ?? throw new InvalidOperationException("the local cloud answered /_automirror/calls with null");
    }

    public async Task ResetCallCountsAsync(CancellationToken cancellationToken = default)
        => await PostAsync("calls/reset", new { }, cancellationToken);

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
        _http?.Dispose();
        _http = null;
    }

    private HttpClient Http => _http ?? throw new InvalidOperationException("the local cloud is not started; call InitializeAsync first");

    private string StandardError => _stderr.ToString();

    private void OnOutput(string? line)
    {
        if (line is not null && line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
        {
            _ready.TrySetResult(new Uri(line[ReadyPrefix.Length..].Trim()));
        }
    }

    private async Task PostAsync<T>(string route, T body, CancellationToken cancellationToken)
    {
        // Buffered with a Content-Length rather than streamed chunked: simplest for any server.
        using var content = new StringContent(JsonSerializer.Serialize(body, Json), System.Text.Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(new Uri($"/_automirror/{route}", UriKind.Relative), content, cancellationToken);
        await EnsureControlSuccessAsync(response, route, cancellationToken);
    }

    private static async Task EnsureControlSuccessAsync(HttpResponseMessage response, string route, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var detail = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"the local cloud refused /_automirror/{route} ({(int)response.StatusCode}): {detail}");
        }
    }
}

/// <summary>A token bucket: burst <paramref name="Capacity"/>, refilled by <paramref name="RefillPerSecond"/> tokens per simulated second.</summary>
public sealed record BucketSettings(double Capacity, double RefillPerSecond);

/// <summary>
/// One bucket per action, sized by EC2's category: Describe* (100/20), mutating (50/5), CreateTags/DeleteTags (100/10);
/// null keeps EC2's size. <paramref name="Actions"/> gives single actions their own size (key: action name).
/// </summary>
public sealed record ThrottlingSettings(
    bool Enabled = true,
    BucketSettings? NonMutating = null,
    BucketSettings? Mutating = null,
    BucketSettings? Tags = null,
    double? TimeScale = null,
    IReadOnlyDictionary<string, BucketSettings>? Actions = null);

/// <summary>
/// Random faults drawn from one generator seeded with <paramref name="Seed"/>. <paramref name="Actions"/> null means every
/// action of <paramref name="Services"/> (default ec2 and elasticloadbalancing). <paramref name="InstanceNotFoundSeconds"/>:
/// DescribeInstances by id answers InvalidInstanceID.NotFound for that many simulated seconds after launch.
/// </summary>
public sealed record FaultSettings(
    int Seed = 0,
    double ThrottleProbability = 0,
    double ServerErrorProbability = 0,
    IReadOnlyList<string>? ServerErrorCodes = null,
    IReadOnlyList<string>? Actions = null,
    IReadOnlyList<string>? Services = null,
    double InstanceNotFoundSeconds = 0);

public sealed record CallCounts(
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Calls,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Throttled,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Faulted,
    int Total)
{
    /// <summary>Calls of one action, 0 when it was never called.</summary>
    public int For(string service, string action)
        => Calls.TryGetValue(service, out var actions) && actions.TryGetValue(action, out var count) ? count : 0;

    /// <summary>All calls of one service.</summary>
    public int ForService(string service)
        => Calls.TryGetValue(service, out var actions) ? actions.Values.Sum() : 0;
}
