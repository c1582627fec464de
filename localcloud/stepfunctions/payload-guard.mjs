// The payload size quota (limits.mjs) on one execution, enforced around aws-local-stepfunctions without changing it.
//
// The interpreter offers two places to see data: its event log (StateExited carries each state's output, Map
// iterations included) and its per-Task local handler option (the handler receives the input after Parameters and
// returns the Task's result before ResultSelector, ResultPath and OutputPath). So:
// - every Task runs through a handler that checks its input after Parameters, invokes the Lambda function exactly as
//   the interpreter does (LambdaClient.invokeFunction: a new SDK client per Task, which reads AWS_ENDPOINT_URL_LAMBDA,
//   and a function error becomes an error named by its errorType) and checks the function's result. An error here is
//   the interpreter's kind of terminal error (DataLimitExceededError), so it fails the execution past every Retry
//   and Catch, as on AWS, and the history shows LambdaFunctionFailed with AWS's error and cause;
// - a state's output over the quota is seen in the event log, after the interpreter has moved on: the guard records
//   the failure, aborts the run and drops the interpreter's later events. Nothing with an effect runs in between,
//   because a Task's handler first lets the event log catch up and starts nothing once the execution has failed.
import { createRequire } from 'node:module';
import { DataLimitExceededError, exceedsPayloadLimit, inputTooLarge, resultTooLarge } from './limits.mjs';

export class PayloadGuard {
  /**
   * @param states the definition's states by name (statesByName)
   * @param interpreterRequire a require that resolves aws-local-stepfunctions
   */
  constructor(states, interpreterRequire) {
    this.states = states;
    // The Lambda client package the interpreter itself uses, from its own dependencies.
    const fromInterpreter = createRequire(interpreterRequire.resolve('aws-local-stepfunctions'));
    this.lambda = fromInterpreter('@aws-sdk/client-lambda');
    this.failure = undefined; // { error, cause } once a state's output broke the quota
  }

  /** The interpreter's taskResourceLocalHandlers option: one handler per Task state, by name. */
  taskHandlers() {
    const handlers = {};
    for (const [name, state] of this.states) {
      if (state.Type === 'Task') handlers[name] = (input) => this.runTask(name, state.Resource, input);
    }
    return handlers;
  }

  async runTask(name, resource, input) {
    // Every event dispatched so far reaches the event log's reader within microtasks; one turn of the event loop later
    // it has seen the previous state's StateExited and knows whether the execution already failed.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failure) throw new DataLimitExceededError(this.failure.cause); // the run is being aborted; never shown
    if (exceedsPayloadLimit(input)) throw new DataLimitExceededError(inputTooLarge(name));
    const result = await this.invokeFunction(resource, input);
    if (exceedsPayloadLimit(result)) throw new DataLimitExceededError(resultTooLarge(resource));
    return result;
  }

  // aws-local-stepfunctions 3.0.0's LambdaClient.invokeFunction, unchanged in effect.
  async invokeFunction(functionNameOrArn, payload) {
    const client = new this.lambda.LambdaClient({});
    const answer = await client.send(new this.lambda.InvokeCommand({
      FunctionName: functionNameOrArn,
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }));
    const result = answer.Payload ? JSON.parse(new TextDecoder().decode(answer.Payload)) : null;
    if (answer.FunctionError) {
      const error = new Error(`${result.errorType}: ${result.errorMessage}`, { cause: result });
      error.name = result.errorType;
      throw error;
    }
    return result;
  }

  /**
   * Reads one event of the interpreter's log before the history does. Returns the failure when this event is the
   * state output that breaks the quota, so the caller records it and aborts the run.
   */
  inspect(event) {
    if (this.failure || event.type !== 'StateExited' || !exceedsPayloadLimit(event.state.output)) return undefined;
    this.failure = { error: 'States.DataLimitExceeded', cause: resultTooLarge(event.state.name) };
    return this.failure;
  }
}
