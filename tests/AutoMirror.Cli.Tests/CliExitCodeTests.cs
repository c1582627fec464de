namespace AutoMirror.Cli.Tests;

/// <summary>Exit codes and messages scripts rely on, for failures that need no cloud at all.</summary>
public sealed class CliExitCodeTests
{
    private static readonly Dictionary<string, string> Configured = new()
    {
        ["AWS_ACCESS_KEY_ID"] = "test",
        ["AWS_SECRET_ACCESS_KEY"] = "test",
        ["AWS_REGION"] = "us-east-1",
        // Nothing listens here: the commands below must fail before any request.
        ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9",
        ["MIRROR_TARGET_ID"] = "tmt-0123456789abcdef0",
        ["MIRROR_FILTER_ID"] = "tmf-0123456789abcdef0",
    };

    private static Dictionary<string, string> Without(params string[] names) =>
        Configured.Where(kv => !names.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);

    [Fact]
    public async Task Help_ListsTheCommandsAndExitCodes()
    {
        var result = await AutomirrorProcess.RunAsync(Configured, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Exit codes: 0 ok; 1 AWS error", result.Output, StringComparison.Ordinal);
        foreach (var command in new[] { "status", "reconcile", "teardown" })
        {
            Assert.Contains(result.Lines, l => l.TrimStart().StartsWith(command + " ", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("teardown")]
    [InlineData("teardown", "--lab", "red", "--action", "explode")]
    [InlineData("status", "--bogus")]
    [InlineData("frobnicate")]
    public async Task BadUsage_ExitsWith2AndSaysWhatIsWrong(params string[] args)
    {
        var result = await AutomirrorProcess.RunAsync(Configured, args);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("automirror: ", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task NoRegionAndNoCredentials_ExitsWith3NamingBoth()
    {
        var result = await AutomirrorProcess.RunAsync(Without("AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "status");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("AWS_REGION", result.Error, StringComparison.Ordinal);
        Assert.Contains("credentials", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoCredentials_ExitsWith3()
    {
        var result = await AutomirrorProcess.RunAsync(Without("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "teardown", "--lab", "red");

        Assert.Equal(3, result.ExitCode);
        Assert.Contains("credentials", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoMirrorTarget_ExitsWith2NamingTheVariableAndTheOption()
    {
        var result = await AutomirrorProcess.RunAsync(Without("MIRROR_TARGET_ID"), "status");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("MIRROR_TARGET_ID", result.Error, StringComparison.Ordinal);
        Assert.Contains("--target-id", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableEndpoint_ExitsWith1()
    {
        var result = await AutomirrorProcess.RunAsync(Configured, "status");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("automirror: ", result.Error, StringComparison.Ordinal);
    }
}
