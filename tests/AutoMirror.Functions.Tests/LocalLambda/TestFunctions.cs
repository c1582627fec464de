using System.Text;
using AutoMirror.Aws;

namespace AutoMirror.Functions.Tests.LocalLambda;

/// <summary>Handlers in the managed runtime's Stream shape, for the local Lambda host's tests.</summary>
public sealed class TestFunctions
{
    public async Task<Stream> EchoAsync(Stream input)
    {
        var copy = new MemoryStream();
        await input.CopyToAsync(copy);
        copy.Position = 0;
        return copy;
    }

    public Task<Stream> FailAsync(Stream input) =>
        throw new ThrottledException("RequestLimitExceeded", "Request limit exceeded.", "req-1", System.Net.HttpStatusCode.ServiceUnavailable);
}

/// <summary>Reads its environment in the constructor, as AutoMirror's handlers do.</summary>
public sealed class GreetingFunction
{
    private readonly string _greeting = Environment.GetEnvironmentVariable("TEST_GREETING") ?? "(unset)";
    private readonly string _override = Environment.GetEnvironmentVariable("TEST_OVERRIDE") ?? "(unset)";

    public Task<Stream> HandleAsync(Stream input) =>
        Task.FromResult<Stream>(new MemoryStream(Encoding.UTF8.GetBytes($"{{\"greeting\":\"{_greeting}\",\"override\":\"{_override}\"}}")));
}
