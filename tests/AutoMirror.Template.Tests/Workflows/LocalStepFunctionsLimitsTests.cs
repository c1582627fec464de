using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using AutoMirror.Testing;

namespace AutoMirror.Template.Tests.Workflows;

/// <summary>
/// The Step Functions limits the local endpoint enforces so a test fails where AWS would (localcloud/stepfunctions/
/// limits.mjs): names, StartExecution's input, and the 262,144-byte payload quota on state outputs, Task inputs and
/// Lambda results, which fails an execution with States.DataLimitExceeded past every Retry and Catch. Each limit is
/// met exactly (accepted) and broken by one (refused with AWS's error).
/// </summary>
[Trait("Category", "Integration")]
public sealed class LocalStepFunctionsLimitsTests : IAsyncLifetime
{
    private const int Quota = 262144;
    private const string FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:Sized";

    // A Parallel state whose output is [input, "-"]: 6 bytes more than its input, so the output alone can break the
    // quota. Retry and Catch on States.ALL must not see the quota's error.
    private const string Grow = """
        {"StartAt":"Grow","States":{
          "Grow":{"Type":"Parallel","Branches":[
              {"StartAt":"Same","States":{"Same":{"Type":"Pass","End":true}}},
              {"StartAt":"Dash","States":{"Dash":{"Type":"Pass","Result":"-","End":true}}}],
            "Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":2}],
            "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},
          "Caught":{"Type":"Pass","Result":"caught","End":true}}}
        """;

    // The function returns as many bytes as asked; ResultSelector keeps the state's output small, so only the
    // function's own result can break the quota.
    private const string Fetch = """
        {"StartAt":"Fetch","States":{
          "Fetch":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Sized",
            "ResultSelector":{"fetched":true},
            "Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":2}],
            "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},
          "Caught":{"Type":"Pass","Result":"caught","End":true}}}
        """;

    // Parameters doubles the input before the function is called.
    private const string Doubled = """
        {"StartAt":"Send","States":{
          "Send":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Sized",
            "Parameters":{"a.$":"$.blob","b.$":"$.blob"},
            "Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},
          "Caught":{"Type":"Pass","Result":"caught","End":true}}}
        """;

    // A Pass state breaks the quota and a Task follows: the Task must never call its function.
    private const string ThenCall = """
        {"StartAt":"Copy","States":{
          "Copy":{"Type":"Pass","Parameters":{"a.$":"$.blob","b.$":"$.blob"},"Next":"Call"},
          "Call":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Sized","End":true}}}
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("automirror-limits-").FullName;
    private readonly SizedFunction _function = new();
    private LocalStepFunctions _stepFunctions = null!;

    public async Task InitializeAsync()
    {
        var definitions = new Dictionary<string, string>();
        foreach (var (name, text) in new[] { ("Grow", Grow), ("Fetch", Fetch), ("Doubled", Doubled), ("ThenCall", ThenCall) })
        {
            var file = Path.Combine(_folder, name + ".asl.json");
            await File.WriteAllTextAsync(file, text);
            definitions[name] = file;
        }

        _stepFunctions = await LocalStepFunctions.StartAsync(new LocalStepFunctionsOptions
        {
            Definitions = definitions,
            LambdaEndpoint = _function.Endpoint,
            RetryPause = TimeSpan.FromMilliseconds(1),
        });
    }

    public async Task DisposeAsync()
    {
        await _stepFunctions.DisposeAsync();
        _function.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    // ---- StartExecution's input: bytes of UTF-8, not characters.

    [Fact]
    public async Task StartExecution_InputOf262144Utf8Bytes_IsAccepted_OneByteMore_IsValidationException()
    {
        // 'é' is two bytes: 131,071 of them in quotes are 262,144 bytes but only 131,073 characters.
        var atQuota = "\"" + new string('é', 131071) + "\"";
        Assert.Equal(Quota, Encoding.UTF8.GetByteCount(atQuota));

        await StartAsync("Grow", "input-at-quota", atQuota);
        var refused = await RefusedAsync("StartExecution", Start("Grow", "input-over-quota", atQuota[..^1] + "x\""));

        Assert.Equal("ValidationException", refused.Type);
        Assert.Equal("1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding", refused.Message);
    }

    [Fact]
    public async Task StartExecution_InputThatIsNotJson_IsInvalidExecutionInput()
    {
        var refused = await RefusedAsync("StartExecution", Start("Grow", "not-json", "{\"a\":"));

        Assert.Equal("InvalidExecutionInput", refused.Type);
    }

    // ---- Names: length first (ValidationException), then characters (InvalidName), for executions and state machines.

    [Fact]
    public async Task StartExecution_NameOf80Characters_IsAccepted_81_IsValidationException()
    {
        await StartAsync("Grow", new string('n', 80), "{}");
        var tooLong = new string('n', 81);
        var refused = await RefusedAsync("StartExecution", Start("Grow", tooLong, "{}"));

        Assert.Equal("ValidationException", refused.Type);
        Assert.Equal($"1 validation error detected: Value '{tooLong}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80", refused.Message);
    }

    [Fact]
    public async Task StartExecution_EmptyName_IsValidationException()
    {
        var refused = await RefusedAsync("StartExecution", Start("Grow", "", "{}"));

        Assert.Equal("ValidationException", refused.Type);
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("a\tb")]
    [InlineData("a\u2003b")]
    [InlineData("a<b")]
    [InlineData("a>b")]
    [InlineData("a{b")]
    [InlineData("a}b")]
    [InlineData("a[b")]
    [InlineData("a]b")]
    [InlineData("a?b")]
    [InlineData("a*b")]
    [InlineData("a\"b")]
    [InlineData("a#b")]
    [InlineData("a%b")]
    [InlineData("a\\b")]
    [InlineData("a^b")]
    [InlineData("a|b")]
    [InlineData("a~b")]
    [InlineData("a`b")]
    [InlineData("a$b")]
    [InlineData("a&b")]
    [InlineData("a,b")]
    [InlineData("a;b")]
    [InlineData("a:b")]
    [InlineData("a/b")]
    [InlineData("a\u0000b")]
    [InlineData("a\u001fb")]
    [InlineData("a\u007fb")]
    [InlineData("a\u009fb")]
    public async Task StartExecution_NameWithAForbiddenCharacter_IsInvalidName(string name)
    {
        var refused = await RefusedAsync("StartExecution", Start("Grow", name, "{}"));

        Assert.Equal(("InvalidName", $"Invalid Name: '{name}'"), (refused.Type, refused.Message));
    }

    [Theory]
    [InlineData("attach.i-0abc.1")]
    [InlineData("café")]
    [InlineData("a=b+c@d!(e)'f")]
    public async Task StartExecution_NameAwsAllows_IsAccepted(string name)
    {
        await StartAsync("Grow", name, "{}");
    }

    [Fact]
    public async Task CreateStateMachine_FollowsTheSameNameRules()
    {
        await CreateAsync(new string('m', 80));

        Assert.Equal("ValidationException", (await RefusedAsync("CreateStateMachine", CreateRequest(new string('m', 81)))).Type);
        Assert.Equal("InvalidName", (await RefusedAsync("CreateStateMachine", CreateRequest("lab machine"))).Type);
        Assert.Equal("InvalidName", (await RefusedAsync("CreateStateMachine", CreateRequest("lab:machine"))).Type);
    }

    [Fact]
    public async Task StartExecution_SameNameAndInputWhileRunning_ReturnsTheExecution_OtherInputOrClosed_IsExecutionAlreadyExists()
    {
        _function.Delay = TimeSpan.FromSeconds(1);
        var first = await StartAsync("Fetch", "same-name", """{"size":10}""");
        var again = await StartAsync("Fetch", "same-name", """{"size":10}""");
        var otherInput = await RefusedAsync("StartExecution", Start("Fetch", "same-name", """{"size":11}"""));
        var run = await _stepFunctions.WaitAsync(first);
        var closed = await RefusedAsync("StartExecution", Start("Fetch", "same-name", """{"size":10}"""));

        Assert.Equal(first, again);
        Assert.Equal("SUCCEEDED", run.Status);
        Assert.Equal(("ExecutionAlreadyExists", "ExecutionAlreadyExists"), (otherInput.Type, closed.Type));
        Assert.Equal(1, _function.Calls);
    }

    // ---- The payload quota inside an execution.

    [Fact]
    public async Task StateOutput_AtTheQuota_Succeeds()
    {
        var run = await RunAsync("Grow", InputOfBytes(Quota - 6));

        Assert.Equal("SUCCEEDED", run.Status);
        Assert.Equal(Quota, Encoding.UTF8.GetByteCount(run.Output!.ToJsonString()));
    }

    [Fact]
    public async Task StateOutput_OneByteOverTheQuota_FailsTheExecution_PastRetryAndCatch()
    {
        var run = await RunAsync("Grow", InputOfBytes(Quota - 5));

        Assert.Equal("FAILED", run.Status);
        Assert.Equal(("States.DataLimitExceeded", "The state/task 'Grow' returned a result with a size exceeding the maximum number of bytes service limit."), (run.Error, run.Cause));
        Assert.DoesNotContain("Caught", run.States);
        Assert.Equal(1, run.Entered("Grow"));
        Assert.Empty(run.EventsOf("ParallelStateExited", "Grow"));
        var last = run.Events[^1]!;
        Assert.Equal("ExecutionFailed", (string?)last["type"]);
        Assert.Equal("States.DataLimitExceeded", (string?)last["executionFailedEventDetails"]!["error"]);
    }

    [Fact]
    public async Task LambdaResult_AtTheQuota_Succeeds()
    {
        var run = await RunAsync("Fetch", $$"""{"size":{{Quota}}}""");

        Assert.Equal("SUCCEEDED", run.Status);
        Assert.Equal("""{"fetched":true}""", run.Output!.ToJsonString());
    }

    [Fact]
    public async Task LambdaResult_OneByteOverTheQuota_FailsTheTaskAndTheExecution_PastRetryAndCatch()
    {
        // ResultSelector would make the state's output small: the function's own result is what breaks the quota.
        var run = await RunAsync("Fetch", $$"""{"size":{{Quota + 1}}}""");

        const string Cause = $"The state/task '{FunctionArn}' returned a result with a size exceeding the maximum number of bytes service limit.";
        Assert.Equal(("FAILED", "States.DataLimitExceeded", Cause), (run.Status, run.Error, run.Cause));
        Assert.DoesNotContain("Caught", run.States);
        Assert.Equal(0, run.Retries());
        var failed = Assert.Single(run.EventsOf("LambdaFunctionFailed", "Fetch"));
        Assert.Equal("States.DataLimitExceeded", (string?)failed["lambdaFunctionFailedEventDetails"]!["error"]);
        Assert.Equal(Cause, (string?)failed["lambdaFunctionFailedEventDetails"]!["cause"]);
        Assert.Equal(1, _function.Calls);
    }

    [Fact]
    public async Task TaskInputAfterParameters_OverTheQuota_FailsBeforeTheFunctionIsCalled()
    {
        // {"blob":"…"} under the quota; Parameters makes {"a":"…","b":"…"}, over it.
        var run = await RunAsync("Doubled", InputOfBytes(Quota / 2 + 100));

        Assert.Equal(("FAILED", "States.DataLimitExceeded"), (run.Status, run.Error));
        Assert.DoesNotContain("Caught", run.States);
        Assert.Equal(0, _function.Calls);
    }

    [Fact]
    public async Task TaskInputAfterParameters_UnderTheQuota_CallsTheFunction()
    {
        var run = await RunAsync("Doubled", InputOfBytes(100));

        Assert.Equal("SUCCEEDED", run.Status);
        Assert.Equal(1, _function.Calls);
    }

    [Fact]
    public async Task AfterAStateOutputBreaksTheQuota_TheNextTaskNeverCallsItsFunction()
    {
        var run = await RunAsync("ThenCall", InputOfBytes(Quota / 2 + 100));

        Assert.Equal(("FAILED", "States.DataLimitExceeded"), (run.Status, run.Error));
        Assert.Equal("The state/task 'Copy' returned a result with a size exceeding the maximum number of bytes service limit.", run.Cause);
        Assert.DoesNotContain("Call", run.States);
        Assert.Equal(0, _function.Calls);
    }

    /// <summary>{"blob":"xx…"} of exactly <paramref name="bytes"/> bytes.</summary>
    private static string InputOfBytes(int bytes) => "{\"blob\":\"" + new string('x', bytes - 11) + "\"}";

    private static JsonObject Start(string machine, string name, string input) => new()
    {
        ["stateMachineArn"] = LocalStepFunctions.StateMachineArn(machine),
        ["name"] = name,
        ["input"] = input,
    };

    private static JsonObject CreateRequest(string name) => new()
    {
        ["name"] = name,
        ["definition"] = """{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}""",
        ["roleArn"] = "arn:aws:iam::123456789012:role/limits",
    };

    private async Task<string> StartAsync(string machine, string name, string input) =>
        (string)(await _stepFunctions.CallAsync("StartExecution", Start(machine, name, input)))["executionArn"]!;

    private async Task CreateAsync(string name) => await _stepFunctions.CallAsync("CreateStateMachine", CreateRequest(name));

    private async Task<WorkflowRun> RunAsync(string machine, string input)
    {
        var run = await _stepFunctions.WaitAsync(await StartAsync(machine, "run-" + Guid.NewGuid().ToString("N"), input), TimeSpan.FromMinutes(1));
        return run;
    }

    /// <summary>The AWS error a refused call answers (LocalStepFunctions.CallAsync throws with the body).</summary>
    private async Task<(string Type, string Message)> RefusedAsync(string operation, JsonObject request)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _stepFunctions.CallAsync(operation, request));
        var body = JsonNode.Parse(error.Message[(error.Message.IndexOf("): ", StringComparison.Ordinal) + 3)..])!;
        return ((string)body["__type"]!, (string)body["message"]!);
    }

    /// <summary>
    /// A Lambda Invoke endpoint for one function that answers {"pad":"xx…"} of exactly the "size" bytes its input asks
    /// for (a small answer when it asks for none) and counts its calls.
    /// </summary>
    private sealed class SizedFunction : IDisposable
    {
        private readonly HttpListener _listener = new();
        private int _calls;

        public SizedFunction()
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Endpoint = new Uri($"http://127.0.0.1:{port}/");
            _listener.Prefixes.Add(Endpoint.ToString());
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        public Uri Endpoint { get; }

        public int Calls => Volatile.Read(ref _calls);

        public TimeSpan Delay { get; set; } = TimeSpan.Zero;

        public void Dispose() => _listener.Close();

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
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

                Interlocked.Increment(ref _calls);
                using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
                var input = JsonNode.Parse(await reader.ReadToEndAsync());
                var size = (int?)input?["size"] ?? 0;
                var answer = size > 0 ? "{\"pad\":\"" + new string('x', size - 10) + "\"}" : "{\"ok\":true}";
                await Task.Delay(Delay);
                var bytes = Encoding.UTF8.GetBytes(answer);
                context.Response.ContentType = "application/json";
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        }
    }
}
