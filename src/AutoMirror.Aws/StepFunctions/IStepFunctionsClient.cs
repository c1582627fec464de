namespace AutoMirror.Aws.StepFunctions;

/// <summary>The Step Functions operations AutoMirror calls (JSON 1.0 protocol).</summary>
public interface IStepFunctionsClient
{
    /// <summary>
    /// Starts an execution. A name already used with the same input returns the existing execution, as AWS does
    /// for standard workflows; the same name with other input raises ExecutionAlreadyExists.
    /// </summary>
    Task<StartedExecution> StartExecutionAsync(string stateMachineArn, string name, string inputJson, CancellationToken cancellationToken);

    Task<ExecutionDescription> DescribeExecutionAsync(string executionArn, CancellationToken cancellationToken);
}

public sealed record StartedExecution(string ExecutionArn, DateTimeOffset StartDate);

public sealed record ExecutionDescription(
    string ExecutionArn,
    string StateMachineArn,
    string Name,
    string Status,
    string? Input,
    string? Output,
    string? Error,
    string? Cause,
    DateTimeOffset StartDate,
    DateTimeOffset? StopDate);
