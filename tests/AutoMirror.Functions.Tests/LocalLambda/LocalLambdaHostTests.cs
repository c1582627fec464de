using System.Net;
using System.Text;
using System.Text.Json;
using AutoMirror.LocalLambda;
using AutoMirror.Testing;

namespace AutoMirror.Functions.Tests.LocalLambda;

/// <summary>The local Lambda host over real HTTP on loopback, as the Step Functions interpreter calls it.</summary>
public sealed class LocalLambdaHostTests : IAsyncLifetime
{
    private static readonly string TemplatePath = Path.Combine(RepositoryRoot.Path, "tests", "AutoMirror.Functions.Tests", "LocalLambda", "test-template.yaml");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private LocalLambdaServer? _server;

    public async Task InitializeAsync()
    {
        var options = CommandLine.Parse([
            "--port", "0",
            "--template", TemplatePath,
            "--env", "TEST_OVERRIDE=from-command-line",
            // Real handlers build real AWS clients; nothing listens on port 9, and the calls tested here make none.
            "--env", "AWS_REGION=us-east-1",
            "--env", "AWS_ACCESS_KEY_ID=testing",
            "--env", "AWS_SECRET_ACCESS_KEY=testing",
            "--env", "AWS_ENDPOINT_URL=http://127.0.0.1:9",
            "--env", "ATTACH_STATE_MACHINE_ARN=arn:aws:states:us-east-1:123456789012:stateMachine:Attach",
        ]);
        _server = await LocalLambdaServer.StartAsync(options);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private async Task<HttpResponseMessage> InvokeAsync(string function, string payload)
    {
        using var content = new StringContent(payload, Encoding.UTF8, "application/json");
        return await _http.PostAsync(new Uri(_server!.Address, $"/2015-03-31/functions/{Uri.EscapeDataString(function)}/invocations"), content);
    }

    [Fact]
    public void Server_ListensOnLoopbackOnly() => Assert.Equal("127.0.0.1", _server!.Address.Host);

    [Theory]
    [InlineData("EchoFunction")]
    [InlineData("arn:aws:lambda:us-east-1:123456789012:function:EchoFunction")]
    [InlineData("arn:aws:lambda:us-east-1:123456789012:function:EchoFunction:$LATEST")]
    [InlineData("automirror-EchoFunction")]
    [InlineData("automirror-EchoFunction-1AB2C3D4")]
    public async Task Invoke_ResolvesLogicalIdNameOrArn_AndReturnsTheHandlersStream(string name)
    {
        using var response = await InvokeAsync(name, "{\"hello\":\"world\"}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Amz-Function-Error"));
        Assert.Equal("{\"hello\":\"world\"}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Invoke_WhenHandlerThrows_AnswersLikeLambda()
    {
        using var response = await InvokeAsync("FailFunction", "{}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Unhandled", Assert.Single(response.Headers.GetValues("X-Amz-Function-Error")));
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ThrottledException", error.GetProperty("errorType").GetString());
        Assert.Contains("RequestLimitExceeded", error.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        Assert.Contains(error.GetProperty("stackTrace").EnumerateArray(), line => line.GetString()!.Contains("FailAsync", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Invoke_UnknownFunction_IsResourceNotFound()
    {
        using var response = await InvokeAsync("NoSuchFunction", "{}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("ResourceNotFoundException", Assert.Single(response.Headers.GetValues("x-amzn-ErrorType")));
    }

    [Fact]
    public async Task Invoke_GivesTheHandlerItsTemplateEnvironmentAndOverrides()
    {
        using var response = await InvokeAsync("GreetingFunction", "{}");

        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("from-function", body.GetProperty("greeting").GetString());
        Assert.Equal("from-command-line", body.GetProperty("override").GetString());
    }

    [Fact]
    public async Task Invoke_RealEventHandler_RejectsAMalformedEventUnchanged()
    {
        var malformed = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "events", "malformed", "unknown-state.json"));

        using var response = await InvokeAsync("EventFunction", malformed);

        Assert.False(response.Headers.Contains("X-Amz-Function-Error"));
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("rejected", body.GetProperty("action").GetString());
    }

    [Fact]
    public async Task Invoke_RealAttachStep_ReportsItsTypedErrorName()
    {
        using var response = await InvokeAsync("arn:aws:lambda:us-east-1:123456789012:function:EvaluateFunction", "{\"trigger\":\"running\"}");

        Assert.Equal("Unhandled", Assert.Single(response.Headers.GetValues("X-Amz-Function-Error")));
        Assert.Equal("InvalidPayloadException", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errorType").GetString());
    }

    [Fact]
    public async Task Invoke_EventInvocationType_IsAcceptedWith202()
    {
        using var content = new StringContent("{}", Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server!.Address, "/2015-03-31/functions/EchoFunction/invocations")) { Content = content };
        request.Headers.Add("X-Amz-Invocation-Type", "Event");

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }
}

public class LocalLambdaCommandLineTests
{
    [Fact]
    public void Parse_TemplateAndExplicitFunction_AreBothServed()
    {
        var options = CommandLine.Parse(["--port", "0", "--template", Path.Combine(RepositoryRoot.Path, "tests", "AutoMirror.Functions.Tests", "LocalLambda", "test-template.yaml"),
            "--function", "ExtraFunction=AutoMirror.Functions.Tests::AutoMirror.Functions.Tests.LocalLambda.TestFunctions::EchoAsync"]);

        Assert.Contains("ExtraFunction", options.Functions.Keys);
        Assert.Contains("EventFunction", options.Functions.Keys);
        Assert.DoesNotContain("AttachStateMachine", options.Functions.Keys);
        var globals = options.Functions["EvaluateFunction"].Environment;
        Assert.Equal("tmt-0123456789abcdef0", globals["MIRROR_TARGET_ID"]);
        Assert.False(globals.ContainsKey("MIRROR_TAG_KEY"));
        Assert.False(options.Functions["EventFunction"].Environment.ContainsKey("ATTACH_STATE_MACHINE_ARN"));
    }

    [Theory]
    [InlineData(new[] { "--template", "x.yaml" }, "--port")]
    [InlineData(new[] { "--port", "99999" }, "--port")]
    [InlineData(new[] { "--port", "0", "--function", "NoEquals" }, "--function")]
    [InlineData(new[] { "--port", "0" }, "no functions")]
    [InlineData(new[] { "--port", "0", "--bogus" }, "--bogus")]
    [InlineData(new[] { "--port", "0", "--template", "no-such-folder/template.yaml" }, "--template")]
    public void Parse_Mistakes_NameTheOption(string[] args, string named)
    {
        var e = Assert.Throws<CommandLineException>(() => CommandLine.Parse(args));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }
}

/// <summary>The host as a process, the way the workflow harness and the local lab start it.</summary>
public class LocalLambdaProcessTests
{
    [Fact]
    public async Task Process_PrintsReadyLine_AndServesAFunctionLoadedFromAnAssemblyDirectory()
    {
        var hostDll = Path.Combine(AppContext.BaseDirectory, "AutoMirror.LocalLambda.dll");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { hostDll, "--port", "0", "--assembly-dir", AppContext.BaseDirectory,
                     "--function", "EchoFunction=AutoMirror.Functions.Tests::AutoMirror.Functions.Tests.LocalLambda.TestFunctions::EchoAsync" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var ready = await process.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.NotNull(ready);
            Assert.StartsWith("automirror-locallambda ready http://127.0.0.1:", ready, StringComparison.Ordinal);
            var address = new Uri(ready.Split(' ')[2]);
            using var http = new HttpClient();
            using var content = new StringContent("{\"n\":1}", Encoding.UTF8, "application/json");

            using var response = await http.PostAsync(new Uri(address, "/2015-03-31/functions/EchoFunction/invocations"), content, timeout.Token);

            Assert.Equal("{\"n\":1}", await response.Content.ReadAsStringAsync(timeout.Token));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Process_WithABadOption_ExitsWithCode2AndNamesIt()
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "AutoMirror.LocalLambda.dll"));
        start.ArgumentList.Add("--port");
        start.ArgumentList.Add("not-a-port");
        using var process = System.Diagnostics.Process.Start(start)!;
        var errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Equal(2, process.ExitCode);
        Assert.Contains("--port", errors, StringComparison.Ordinal);
    }
}
