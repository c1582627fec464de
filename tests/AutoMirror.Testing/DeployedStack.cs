using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace AutoMirror.Testing;

/// <summary>
/// template.yaml deployed into a local cloud the way `sam deploy` deploys it (automirror_localcloud.deploy: the AWS
/// CLI's package of what `sam build` made, then a change set), with the local Lambda host serving the stack's
/// functions: their handler and environment as the stack deployed them, their code the built artifact. Integration
/// tests take every name, id and ARN from here, so they run on the stack the template makes, not on a copy of it.
/// </summary>
public sealed class DeployedStack : IAsyncDisposable
{
    private const string HostReady = "automirror-locallambda ready ";
    private static readonly TimeSpan DeployLimit = TimeSpan.FromMinutes(4);
    private readonly Process _host;
    private readonly OutputTail _hostLog;

    private readonly Uri _cloud;

    private DeployedStack(Process host, OutputTail hostLog, Uri lambdaEndpoint, JsonObject document, Uri cloud)
    {
        _host = host;
        _hostLog = hostLog;
        LambdaEndpoint = lambdaEndpoint;
        Document = document;
        _cloud = cloud;
    }

    /// <summary>
    /// Creates, in the local Step Functions endpoint that runs workflows, the state machine the stack holds — its
    /// definition after DefinitionSubstitutions, under the stack's own name, so its ARN is the one the functions'
    /// environment names. Returns the name.
    /// </summary>
    public async Task<string> InstallWorkflowAsync(LocalStepFunctions stepFunctions, string stateMachineArn)
    {
        ArgumentNullException.ThrowIfNull(stepFunctions);
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, _cloud)
        {
            Content = new StringContent(new JsonObject { ["stateMachineArn"] = stateMachineArn }.ToJsonString(), Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-amz-json-1.0");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "AWSStepFunctions.DescribeStateMachine");
        // The local cloud routes by the credential scope; it checks no signature.
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=testing/{DateTime.UtcNow:yyyyMMdd}/{LocalCloud.Region}/states/aws4_request, SignedHeaders=host, Signature=0");
        using var answer = await http.SendAsync(request);
        var body = await answer.Content.ReadAsStringAsync();
        if (!answer.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"DescribeStateMachine {stateMachineArn} failed: {body}");
        }

        var machine = JsonNode.Parse(body)!;
        var name = (string)machine["name"]!;
        await stepFunctions.CallAsync("CreateStateMachine", new JsonObject
        {
            ["name"] = name,
            ["definition"] = (string)machine["definition"]!,
            ["roleArn"] = (string)machine["roleArn"]!,
        });
        return name;
    }

    /// <summary>The Lambda Invoke endpoint serving the stack's functions.</summary>
    public Uri LambdaEndpoint { get; }

    /// <summary>What the deploy printed: outputs, resources, parameters, network, functions.</summary>
    public JsonObject Document { get; }

    public string StackName => (string)Document["stackName"]!;

    public string Output(string key) =>
        (string?)Document["outputs"]?[key] ?? throw new KeyNotFoundException($"the stack has no output {key}");

    /// <summary>The physical id of a resource of the template, by its logical id (after the SAM transform).</summary>
    public string Physical(string logicalId) =>
        (string?)Document["resources"]?[logicalId]?["physicalId"] ?? throw new KeyNotFoundException($"the stack has no resource {logicalId}");

    public string MirrorTargetId => Output("MirrorTargetId");

    public string MirrorFilterId => Output("MirrorFilterId");

    public string TargetGroupArn => Output("SensorTargetGroupArn");

    public string LoadBalancerArn => Output("SensorLoadBalancerArn");

    public string AttachStateMachineArn => Output("AttachStateMachineArn");

    public string TeardownStateMachineArn => Output("TeardownStateMachineArn");

    public string VpcId => (string)Document["network"]!["vpcId"]!;

    /// <summary>The user's subnets for workloads (the network the deploy made first, as a user brings one).</summary>
    public IReadOnlyList<string> WorkloadSubnetIds => [.. Document["network"]!["workloadSubnetIds"]!.AsArray().Select(s => (string)s!)];

    public IReadOnlyList<string> SensorSubnetIds => [.. Document["network"]!["sensorSubnetIds"]!.AsArray().Select(s => (string)s!)];

    /// <summary>A function's deployed name (what an ARN in the stack names), by its logical id.</summary>
    public string FunctionName(string logicalId) =>
        Document["resources"]?[logicalId] is not null ? Physical(logicalId) : logicalId;

    /// <summary>A function's ARN as the stack's workflows name it, by its logical id.</summary>
    public string FunctionArn(string logicalId) =>
        (string?)Document["functions"]?[FunctionName(logicalId)]?["arn"] ?? throw new KeyNotFoundException($"no deployed function {logicalId}");

    /// <summary>The environment CloudFormation resolved for a function.</summary>
    public IReadOnlyDictionary<string, string> FunctionEnvironment(string logicalId)
    {
        var function = Document["functions"]?[FunctionName(logicalId)]?["environment"]?.AsObject()
            ?? throw new KeyNotFoundException($"no deployed function {logicalId}");
        return function.ToDictionary(p => p.Key, p => (string)p.Value!);
    }

    public string HostLog => _hostLog.ToString();

    /// <summary>
    /// Deploys template.yaml (as .aws-sam/build has it) into <paramref name="cloud"/>. <paramref name="parameters"/> are
    /// the template's parameters beyond the network, which the deploy makes; <paramref name="hostEnvironment"/> is added
    /// to the Lambda host's environment (for example AWS_ENDPOINT_URL_SFN), as Lambda's own endpoints would be.
    /// </summary>
    public static async Task<DeployedStack> DeployAsync(
        LocalCloud cloud,
        IReadOnlyDictionary<string, string>? parameters = null,
        IReadOnlyDictionary<string, string>? hostEnvironment = null,
        string stackName = "automirror")
    {
        ArgumentNullException.ThrowIfNull(cloud);
        var build = Path.Combine(RepositoryRoot.Path, ".aws-sam", "build");
        if (!File.Exists(Path.Combine(build, "template.yaml")))
        {
            throw new InvalidOperationException($"{build} has no template.yaml: run `python3 scripts/sam-build.py` (what `sam build` runs; scripts/test.sh does)");
        }

        var (host, log, endpoint) = await StartHostAsync(cloud, hostEnvironment ?? new Dictionary<string, string>(), Path.Combine(build, "EventFunction"));
        try
        {
            // The stack's custom resource is invoked while the stack is created, as CloudFormation invokes it.
            using (var http = new HttpClient())
            {
                using var answer = await http.PostAsJsonAsync(new Uri(cloud.Endpoint, "/_automirror/lambda-endpoint"), new { url = endpoint.ToString().TrimEnd('/') });
                answer.EnsureSuccessStatusCode();
            }

            var arguments = new List<string>
            {
                "-m", "automirror_localcloud.deploy", "--endpoint", cloud.Endpoint.ToString().TrimEnd('/'), "--stack-name", stackName,
                "--network", "new", "--signal-sensors", "--package-cache", Path.Combine(RepositoryRoot.Path, ".aws-sam", "package-cache"),
            };
            foreach (var (key, value) in parameters ?? new Dictionary<string, string>())
            {
                arguments.AddRange(["--parameter", $"{key}={value}"]);
            }

            var document = await RunDeployAsync(arguments);
            return new DeployedStack(host, log, endpoint, document, cloud.Endpoint);
        }
        catch
        {
            Stop(host);
            host.Dispose();
            throw;
        }
    }

    private static async Task<JsonObject> RunDeployAsync(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PYTHONPATH"] = Path.Combine(RepositoryRoot.Path, "localcloud");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(DeployLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the deploy did not finish in {DeployLimit}: {await errors}");
        }

        return process.ExitCode == 0
            ? JsonNode.Parse(await output)!.AsObject()
            : throw new InvalidOperationException($"the deploy failed (exit {process.ExitCode}): {await errors}");
    }

    private static async Task<(Process Host, OutputTail Log, Uri Endpoint)> StartHostAsync(
        LocalCloud cloud, IReadOnlyDictionary<string, string> environment, string artifact)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
        };
        foreach (var argument in new[] { LocalLambdaAssembly(), "--port", "0", "--deployed-in", cloud.Endpoint.ToString(), "--assembly-dir", artifact })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in cloud.ClientEnvironment.Concat(environment))
        {
            start.Environment[name] = value;
        }

        var log = new OutputTail(200);
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var host = new Process { StartInfo = start, EnableRaisingEvents = true };
        host.OutputDataReceived += (_, e) =>
        {
            log.Add(e.Data);
            if (e.Data is { } line && line.StartsWith(HostReady, StringComparison.Ordinal))
            {
                ready.TrySetResult(new Uri(line[HostReady.Length..].Split(' ')[0]));
            }
        };
        host.ErrorDataReceived += (_, e) => log.Add(e.Data);
        host.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("the local Lambda host exited: " + log.ToString()));
        if (!host.Start())
        {
            throw new InvalidOperationException("dotnet did not start the local Lambda host");
        }

        host.BeginOutputReadLine();
        host.BeginErrorReadLine();
        try
        {
            return (host, log, await ready.Task.WaitAsync(TimeSpan.FromSeconds(60)));
        }
        catch
        {
            Stop(host);
            host.Dispose();
            throw;
        }
    }

    /// <summary>The host built with the solution, in the configuration this test assembly was built in.</summary>
    private static string LocalLambdaAssembly()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        var path = Path.Combine(RepositoryRoot.Path, "src", "AutoMirror.LocalLambda", "bin", configuration, "net10.0", "AutoMirror.LocalLambda.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is missing: build AutoMirror.sln in {configuration}");
    }

    private static void Stop(Process host)
    {
        try
        {
            if (!host.HasExited)
            {
                host.Kill(entireProcessTree: true);
                host.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped: nothing to stop.
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop(_host);
        _host.Dispose();
        return ValueTask.CompletedTask;
    }

    public override string ToString()
    {
        var text = new StringBuilder($"stack {StackName}: ");
        foreach (var (key, value) in Document["outputs"]!.AsObject())
        {
            text.Append(key).Append('=').Append(value).Append(' ');
        }

        return text.ToString();
    }
}
