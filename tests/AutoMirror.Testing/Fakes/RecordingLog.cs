using System.Collections.Concurrent;
using AutoMirror.Core.Logging;

namespace AutoMirror.Testing.Fakes;

public sealed class RecordingLog : IDecisionLog
{
    public ConcurrentQueue<Decision> Decisions { get; } = new();

    /// <summary>The ambient correlation id at each write, in the order of <see cref="Decisions"/>.</summary>
    public ConcurrentQueue<string?> CorrelationIds { get; } = new();

    public void Write(Decision decision)
    {
        CorrelationIds.Enqueue(Correlation.Id);
        Decisions.Enqueue(decision);
    }
}
