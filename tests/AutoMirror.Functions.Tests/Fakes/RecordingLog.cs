using System.Collections.Concurrent;
using AutoMirror.Core.Logging;

namespace AutoMirror.Functions.Tests.Fakes;

public sealed class RecordingLog : IDecisionLog
{
    public ConcurrentQueue<Decision> Decisions { get; } = new();

    public void Write(Decision decision) => Decisions.Enqueue(decision);
}
