using AutoMirror.Core;
using AutoMirror.Core.Events;
using AutoMirror.Core.Mirroring;

namespace AutoMirror.Functions.Handlers;

/// <summary>EventBridge: EC2 instance state changes and tag changes (handler <c>EventHandler::HandleAsync</c>).</summary>
public sealed class EventHandler
{
    private readonly EventRouter _router;

    public EventHandler()
        : this(FunctionServices.FromEnvironment())
    {
    }

    public EventHandler(FunctionServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _router = services.EventRouter;
    }

    /// <summary>A malformed or unexpected event is logged and answered as rejected, with no AWS call.</summary>
    public async Task<Stream> HandleAsync(Stream input)
    {
        var payload = await HandlerIo.ReadAsync(input).ConfigureAwait(false);
        var result = await _router.RouteAsync(MirrorEventParser.Parse(payload), CancellationToken.None).ConfigureAwait(false);
        return HandlerIo.Write(result, AutoMirrorJsonContext.Default.EventResult);
    }
}
