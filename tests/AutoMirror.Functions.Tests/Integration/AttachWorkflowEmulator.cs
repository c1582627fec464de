using System.Text;
using System.Text.Json;
using AutoMirror.Functions.Handlers;

namespace AutoMirror.Functions.Tests.Integration;

/// <summary>
/// statemachine/attach.asl.json's control flow in-process, over the real AttachSteps handlers called through their
/// Stream contract: the same Retry rules (error names, attempts, exponential backoff with full jitter), the bounded
/// health poll, and Catch → Cleanup. Waits are multiplied by <see cref="TimeScale"/> so a time-scaled local cloud
/// and the workflow agree on what a second is. Used where Step Functions itself is not the subject (the local
/// cloud's Step Functions does not run Lambda tasks).
/// </summary>
public sealed class AttachWorkflowEmulator(AttachSteps steps, double timeScale = 1.0, int healthPollSeconds = 1, int healthMaxAttempts = 20)
{
    private sealed record RetryRule(string[] Errors, double IntervalSeconds, int MaxAttempts, double BackoffRate, double MaxDelaySeconds = double.MaxValue);

    private static readonly RetryRule Throttling = new(["ThrottledException", "TransientServiceException"], 1, 5, 2, 30);

    public double TimeScale { get; } = timeScale;

    /// <summary>Runs one execution; returns "skip", "detach", "attached", or throws the error the execution fails with.</summary>
    public async Task<string> RunAsync(string inputJson)
    {
        var plan = await TaskAsync(steps.EvaluateAsync, inputJson,
            new RetryRule(["InstanceNotFoundException"], 2, 4, 2), Throttling);
        var decision = JsonDocument.Parse(plan).RootElement.GetProperty("decision").GetString()!;
        if (decision != "attach")
        {
            return decision;
        }

        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var health = await TaskAsync(steps.CheckTargetHealthAsync, plan, Throttling);
                if (JsonDocument.Parse(health).RootElement.GetProperty("healthy").GetBoolean())
                {
                    break;
                }

                if (attempt >= healthMaxAttempts)
                {
                    throw new WorkflowFailedException("SensorTargetUnhealthy");
                }

                await Task.Delay(Scaled(healthPollSeconds));
            }

            var created = await TaskAsync(steps.CreateSessionsAsync, plan, Throttling with { MaxAttempts = 6 });
            await TaskAsync(steps.VerifyAsync, "{\"plan\":" + plan + ",\"created\":" + created + "}",
                Throttling, new RetryRule(["SessionVerificationException"], 2, 2, 2));
            return "attached";
        }
        catch (Exception e) when (e is not WorkflowFailedException { Error: "SensorTargetUnhealthy" })
        {
            var error = JsonSerializer.Serialize(new Dictionary<string, string> { ["Error"] = e.GetType().Name, ["Cause"] = e.Message });
            await TaskAsync(steps.CleanupAsync, "{\"plan\":" + plan + ",\"error\":" + error + "}", Throttling with { MaxAttempts = 8 });
            throw;
        }
    }

    private async Task<string> TaskAsync(Func<Stream, Task<Stream>> handler, string input, params RetryRule[] rules)
    {
        var attempts = new int[rules.Length];
        while (true)
        {
            try
            {
                using var payload = new MemoryStream(Encoding.UTF8.GetBytes(input));
                await using var output = await handler(payload);
                using var reader = new StreamReader(output, Encoding.UTF8);
                return await reader.ReadToEndAsync();
            }
            catch (Exception e)
            {
                var index = Array.FindIndex(rules, r => r.Errors.Contains(e.GetType().Name));
                if (index < 0 || ++attempts[index] > rules[index].MaxAttempts)
                {
                    throw;
                }

                var rule = rules[index];
                var delay = Math.Min(rule.MaxDelaySeconds, rule.IntervalSeconds * Math.Pow(rule.BackoffRate, attempts[index] - 1));
                await Task.Delay(Scaled(delay * Random.Shared.NextDouble()));
            }
        }
    }

    private TimeSpan Scaled(double seconds) => TimeSpan.FromSeconds(seconds * TimeScale);
}

public sealed class WorkflowFailedException(string error) : Exception("the execution failed with " + error)
{
    public string Error { get; } = error;
}
