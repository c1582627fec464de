using System.Text;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// The stack's custom resource (StackCleanup in template.yaml): before CloudFormation deletes the mirror target,
/// AutoMirror's own sessions to it go. The answer is PUT to the request's ResponseURL; the request id correlates.
/// </summary>
public sealed class StackCleanupHandler(TeardownService service, TeardownLog log, TimeSpan? timeout = null)
{
    // One client per container: the ResponseURL is the only HTTP call that is not an AWS API call.
    private static readonly HttpClient ResponseClient = new() { Timeout = TimeSpan.FromSeconds(30) };

    private readonly StackCleanup _cleanup = new(service, log, ResponseClient);

    public StackCleanupHandler()
        : this(AutoMirrorServices.FromEnvironment())
    {
    }

    public StackCleanupHandler(AutoMirrorServices services)
        : this(services.Teardown, services.TeardownLog, services.Settings.FunctionTimeout)
    {
    }

    public Task<Stream> HandleAsync(Stream input) =>
        Invocation.RunAsync(input, Encoding.UTF8.GetString, Encoding.UTF8.GetBytes, timeout, StackCleanup.RequestIdOf, _cleanup.RespondAsync);
}
