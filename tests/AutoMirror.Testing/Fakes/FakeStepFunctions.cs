using System.Collections.Concurrent;
using System.Net;
using AutoMirror.Aws;
using AutoMirror.Aws.StepFunctions;

namespace AutoMirror.Testing.Fakes;

/// <summary>
/// Records executions with Step Functions' name rule (same name and input → the existing execution; same name,
/// other input → ExecutionAlreadyExists). <see cref="Runner"/>, when set, runs the workflow inline.
/// </summary>
public sealed class FakeStepFunctions : IStepFunctionsClient
{
    public ConcurrentDictionary<string, string> Executions { get; } = new(StringComparer.Ordinal);

    public int Starts;

    public Func<string, Task>? Runner { get; set; }

    public async Task<StartedExecution> StartExecutionAsync(string stateMachineArn, string name, string inputJson, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Starts);
        var arn = stateMachineArn.Replace(":stateMachine:", ":execution:", StringComparison.Ordinal) + ":" + name;
        if (!Executions.TryAdd(name, inputJson))
        {
            if (Executions[name] != inputJson)
            {
                throw new AwsServiceException("ExecutionAlreadyExists", "Execution Already Exists: '" + arn + "'", null, HttpStatusCode.BadRequest);
            }

            return new StartedExecution(arn, DateTimeOffset.UnixEpoch);
        }

        if (Runner is not null)
        {
            await Runner(inputJson);
        }

        return new StartedExecution(arn, DateTimeOffset.UnixEpoch);
    }

    public Task<ExecutionDescription> DescribeExecutionAsync(string executionArn, CancellationToken cancellationToken) =>
        throw new NotSupportedException();
}
