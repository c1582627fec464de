using AutoMirror.Sensor.Receive;

namespace AutoMirror.Sensor.Health;

/// <summary>
/// Healthy only while the sensor can actually forward: every socket bound and receiving, every
/// output writable, the downstream analyser alive. The NLB stops sending to an unhealthy sensor.
/// </summary>
public sealed class HealthEvaluator(SensorEngine engine, DownstreamProbe downstream)
{
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (engine.Workers.Count == 0)
        {
            problems.Add("no receive socket bound");
        }

        foreach (var worker in engine.Workers)
        {
            if (worker.Problem is { } problem)
            {
                problems.Add(worker.Label + ": " + problem);
            }
        }

        foreach (var output in engine.Outputs)
        {
            if (output.Problem() is { } problem)
            {
                problems.Add(problem);
            }
        }

        if (downstream.Problem() is { } down)
        {
            problems.Add(down);
        }

        return problems;
    }
}
