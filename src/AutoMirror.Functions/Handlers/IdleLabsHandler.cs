using AutoMirror.Core;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Teardown;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// IdleLabsFunction (teardown schedule): assesses every lab, logs one line per lab and starts the teardown workflow
/// for each idle one. The scheduled event's content is not used (the time comes from the clock); its id correlates.
/// </summary>
public sealed class IdleLabsHandler(TeardownService service, TeardownLog log, TimeSpan? timeout = null)
{
    public IdleLabsHandler()
        : this(AutoMirrorServices.FromEnvironment())
    {
    }

    public IdleLabsHandler(AutoMirrorServices services)
        : this(services.Teardown, services.TeardownLog, services.Settings.FunctionTimeout)
    {
    }

    public Task<Stream> HandleAsync(Stream input) =>
        Invocation.RunAsync(input, WorkflowState.EventId, Invocation.Write(AutoMirrorJsonContext.Default.IdleLabsResult), timeout, id => id,
            async (_, ct) => log.WriteAll(await service.StartIdleTeardownsAsync(ct).ConfigureAwait(false), "assess"));
}
