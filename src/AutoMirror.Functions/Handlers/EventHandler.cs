using AutoMirror.Core;
using AutoMirror.Core.Composition;
using AutoMirror.Core.Events;

namespace AutoMirror.Functions.Handlers;

/// <summary>
/// EventBridge: EC2 instance state changes and tag changes. A malformed or unexpected event is logged and answered
/// as rejected, with no AWS call. The event's id is the correlation id (and names the Attach execution it starts).
/// </summary>
public sealed class EventHandler(AutoMirrorServices services)
{
    public EventHandler()
        : this(AutoMirrorServices.FromEnvironment())
    {
    }

    public Task<Stream> HandleAsync(Stream input) =>
        Invocation.RunAsync(input, payload => MirrorEventParser.Parse(payload), Invocation.Write(AutoMirrorJsonContext.Default.EventResult), services.Settings.FunctionTimeout,
            e => e.EventId, services.EventRouter.RouteAsync);
}
