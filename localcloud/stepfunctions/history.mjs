// AWS's execution history (GetExecutionHistory's HistoryEvent list) built from aws-local-stepfunctions' event log.
//
//   ExecutionStarted, ExecutionSucceeded, ExecutionFailed {error, cause}, ExecutionAborted, ExecutionTimedOut;
//   <Type>StateEntered {name, input} and <Type>StateExited {name, output}: TaskStateEntered, PassStateEntered,
//     WaitStateEntered, ChoiceStateEntered, MapStateEntered, ... (a Fail state is only entered, as on AWS);
//   a Task on a function ARN: LambdaFunctionScheduled, LambdaFunctionStarted, then LambdaFunctionSucceeded or
//     LambdaFunctionFailed {error, cause} for every attempt, so a Retry shows as a new Scheduled right after a Failed
//     (AWS has no "retried" event); a Task on another resource: TaskScheduled, TaskStarted, TaskSucceeded/TaskFailed;
//   MapIterationStarted / Succeeded / Failed {name, index}; a failing Map or Parallel state: MapStateFailed,
//     ParallelStateFailed.
// previousEventId links each event to the one before it in its own thread (the execution, or one Map iteration), so a
// reader finds the state an event belongs to by following the links back to a *StateEntered event, as on AWS.
// Not produced (the interpreter does not report them): MapStateStarted/Succeeded, other Parallel events, heartbeats.
// One level of Map: the interpreter numbers a nested Map's iterations with the outer iteration's index.

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:/;

/** Every state of a definition by name, Map iterations and Parallel branches included. */
export function statesByName(definition) {
  const found = new Map();
  const visit = (states) => {
    for (const [name, state] of Object.entries(states ?? {})) {
      found.set(name, state);
      visit(state.Iterator?.States);
      visit(state.ItemProcessor?.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  return found;
}

export class History {
  /** @param states the definition's states by name (statesByName): a Task's Resource decides its events. */
  constructor(states) {
    this.states = states;
    this.events = [];
    this.tails = new Map(); // thread -> id of its last event
  }

  record(event) {
    const at = event.timestamp ?? Date.now();
    const thread = event.index === undefined ? 'execution' : `iteration:${event.index}`;
    const state = event.state;
    switch (event.type) {
      case 'ExecutionStarted':
        this.add(thread, at, 'ExecutionStarted', { executionStartedEventDetails: data('input', event.input) });
        break;
      case 'ExecutionSucceeded':
        this.add(thread, at, 'ExecutionSucceeded', { executionSucceededEventDetails: data('output', event.output) });
        break;
      case 'ExecutionFailed':
        this.add(thread, at, 'ExecutionFailed', { executionFailedEventDetails: errorDetails(event) });
        break;
      case 'ExecutionAborted':
        this.add(thread, at, 'ExecutionAborted', {});
        break;
      case 'ExecutionTimeout':
        this.add(thread, at, 'ExecutionTimedOut', {});
        break;
      case 'StateEntered':
        this.add(thread, at, `${state.type}StateEntered`, { stateEnteredEventDetails: { name: state.name, ...data('input', state.input) } });
        if (state.type === 'Task') this.schedule(thread, at, state);
        break;
      case 'StateExited':
        if (state.type === 'Task' && !this.lastFailed(thread)) {
          const task = this.task(state);
          this.add(thread, at, `${task.prefix}Succeeded`, task.lambda ? {} : { taskSucceededEventDetails: task.details });
        }
        this.add(thread, at, `${state.type}StateExited`, { stateExitedEventDetails: { name: state.name, ...data('output', state.output) } });
        break;
      case 'StateFailed':
        if (state.type === 'Task') {
          const task = this.task(state);
          this.add(thread, at, `${task.prefix}Failed`, task.lambda
            ? { lambdaFunctionFailedEventDetails: errorDetails(event) }
            : { taskFailedEventDetails: { ...task.details, ...errorDetails(event) } });
        } else if (state.type === 'Map' || state.type === 'Parallel') {
          this.add(thread, at, `${state.type}StateFailed`, {});
        }
        // Any other state that fails (Fail, a Choice without a match, a bad path) has no event of its own on AWS: the
        // execution's ExecutionFailed carries the error.
        break;
      case 'StateRetried':
        if (state.type === 'Task') this.schedule(thread, at, state);
        break;
      case 'MapIterationStarted':
        // An iteration's thread begins at its Map state, in the execution's thread.
        this.add(thread, at, 'MapIterationStarted', { mapIterationStartedEventDetails: iteration(event) }, this.tails.get('execution') ?? 0);
        break;
      case 'MapIterationSucceeded':
        this.add(thread, at, 'MapIterationSucceeded', { mapIterationSucceededEventDetails: iteration(event) });
        break;
      case 'MapIterationFailed':
        this.add(thread, at, 'MapIterationFailed', { mapIterationFailedEventDetails: iteration(event) });
        break;
      default:
        break; // StateCaught: AWS shows a caught error only as the state's exit and the Catch's next state.
    }
  }

  /**
   * A state whose output broke the payload size quota (payload-guard.mjs): its Task finished, the state never exits,
   * and the execution fails with the quota's error; an iteration that held the state fails first. The interpreter's
   * own events after this one are not AWS's and are not recorded.
   */
  recordOutputTooLarge(event, { error, cause }) {
    const at = event.timestamp ?? Date.now();
    const thread = event.index === undefined ? 'execution' : `iteration:${event.index}`;
    const state = event.state;
    if (state.type === 'Task' && !this.lastFailed(thread)) {
      const task = this.task(state);
      this.add(thread, at, `${task.prefix}Succeeded`, task.lambda ? {} : { taskSucceededEventDetails: task.details });
    }
    if (event.index !== undefined) {
      this.add(thread, at, 'MapIterationFailed', { mapIterationFailedEventDetails: iteration(event) });
    }
    this.add('execution', at, 'ExecutionFailed', { executionFailedEventDetails: { error, cause } });
  }

  add(thread, at, type, details, previousEventId = this.tails.get(thread) ?? 0) {
    const id = this.events.length + 1;
    this.events.push({ timestamp: at / 1000, type, id, previousEventId, ...details });
    this.tails.set(thread, id);
  }

  schedule(thread, at, state) {
    const task = this.task(state);
    if (task.lambda) {
      this.add(thread, at, 'LambdaFunctionScheduled', {
        lambdaFunctionScheduledEventDetails: { resource: task.resource, ...data('input', state.input) },
      });
      this.add(thread, at, 'LambdaFunctionStarted', {});
    } else {
      this.add(thread, at, 'TaskScheduled', { taskScheduledEventDetails: { ...task.details, parameters: JSON.stringify(state.input ?? null) } });
      this.add(thread, at, 'TaskStarted', { taskStartedEventDetails: task.details });
    }
  }

  task(state) {
    const resource = this.states.get(state.name)?.Resource ?? '';
    const lambda = LAMBDA_ARN.test(resource);
    // arn:aws:states:::sns:publish -> sns
    const resourceType = /^arn:aws[a-z-]*:states:::([^:]+)/.exec(resource)?.[1] ?? 'lambda';
    return { lambda, resource, prefix: lambda ? 'LambdaFunction' : 'Task', details: { resourceType, resource } };
  }

  lastFailed(thread) {
    const last = this.events[(this.tails.get(thread) ?? 0) - 1];
    return last?.type === 'LambdaFunctionFailed' || last?.type === 'TaskFailed';
  }
}

function data(name, value) {
  return { [name]: JSON.stringify(value ?? null), [`${name}Details`]: { truncated: false } };
}

function iteration(event) {
  return { name: event.parentState.name, index: event.index };
}

function errorDetails(event) {
  const cause = event.Cause;
  return { error: event.Error ?? 'States.Runtime', cause: typeof cause === 'string' ? cause : JSON.stringify(cause ?? '') };
}
