// A local Step Functions endpoint (JSON 1.0 protocol) that runs the ASL unchanged in aws-local-stepfunctions.
// AutoMirror's functions start workflows through StartExecution, so the tests and the local lab need an endpoint
// that speaks the real API, not just a library call: AWS_ENDPOINT_URL_SFN points here, and the interpreter's Lambda
// tasks go to AWS_ENDPOINT_URL_LAMBDA (the local Lambda host).
//
//   node sfn-server.mjs --port 8083 [--definition Name=path.asl.json]... [--substitute Key=Value]...
//                       [--retry-pause-ms N]
//
// --substitute does what the template's DefinitionSubstitutions do; --retry-pause-ms shortens every Retry pause
// (the interpreter's own override), so a test of throttling does not sleep through real backoff. --port 0 binds a
// free port; the first stdout line is JSON naming the address and the state machines.
//
// API: CreateStateMachine, StartExecution (AWS's name idempotency), DescribeExecution, ListExecutions,
// ListStateMachines, GetExecutionHistory (AWS's event shapes: history.mjs). AWS's name rules, StartExecution's input
// size and the payload size quota (States.DataLimitExceeded) hold: limits.mjs, payload-guard.mjs. One local-only
// route, POST /_automirror/lambda-endpoint {"endpoint": URL}, sets AWS_ENDPOINT_URL_LAMBDA after start: a harness whose
// Lambda host must first be told this server's address can then wire both on free ports without guessing one.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { History, statesByName } from './history.mjs';
import { AwsError, checkExecutionInputSize, checkNameCharacters, checkNameLength } from './limits.mjs';
import { PayloadGuard } from './payload-guard.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const require = createRequire(path.join(repoRoot, '.tools', 'node', 'package.json'));
const { StateMachine, ExecutionError } = require('aws-local-stepfunctions');

const ACCOUNT = '123456789012';
const REGION = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';

function parseArgs(argv) {
  const options = { port: 8083, host: '127.0.0.1', definitions: [], substitutions: {}, retryPauseMs: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    switch (flag) {
      case '--port': options.port = Number(value); i++; break;
      case '--host': options.host = value; i++; break;
      case '--definition': options.definitions.push(splitPair(flag, value)); i++; break;
      case '--substitute': { const [k, v] = splitPair(flag, value); options.substitutions[k] = v; i++; break; }
      case '--retry-pause-ms': options.retryPauseMs = Number(value); i++; break;
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  return options;
}

function splitPair(flag, value) {
  const at = value?.indexOf('=') ?? -1;
  if (at <= 0) throw new Error(`${flag} takes Name=Value, got '${value}'`);
  return [value.slice(0, at), value.slice(at + 1)];
}

// DefinitionSubstitutions replace ${Key} in the definition text; an unknown key is an error, as in CloudFormation.
function substitute(text, substitutions) {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (whole, key) => {
    if (!(key in substitutions)) throw new Error(`no substitution for \${${key}}`);
    return substitutions[key];
  });
}

const machines = new Map(); // arn -> { name, definition (object), machine }
const executions = new Map(); // arn -> record
const histories = new Map(); // execution arn -> History

function createStateMachine({ name, definition }) {
  checkNameLength(name);
  checkNameCharacters(name);
  const arn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
  if (machines.has(arn)) {
    // AWS: the same definition again is idempotent. Compared as text, because the interpreter fills defaults into the
    // definition object it is given.
    if (machines.get(arn).text !== JSON.stringify(JSON.parse(definition))) {
      throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    }
    return { stateMachineArn: arn, creationDate: machines.get(arn).created };
  }
  let parsed;
  try {
    parsed = JSON.parse(definition);
  } catch (e) {
    throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: ${e.message}`);
  }
  let machine;
  try {
    machine = new StateMachine(parsed, { validationOptions: { checkArn: true, checkPaths: true } });
  } catch (e) {
    throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: ${e.message}`);
  }
  const created = Date.now() / 1000;
  machines.set(arn, { name, definition: parsed, text: JSON.stringify(JSON.parse(definition)), machine, created, states: statesByName(parsed) });
  return { stateMachineArn: arn, creationDate: created };
}

function retryOverrides(definition, pauseMs) {
  // The interpreter takes per-state overrides; every state with a Retry gets the same short pause.
  if (pauseMs === undefined) return undefined;
  const overrides = {};
  const visit = (states) => {
    for (const [name, state] of Object.entries(states ?? {})) {
      if (state.Retry) overrides[name] = pauseMs;
      if (state.Iterator) visit(state.Iterator.States);
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
      for (const branch of state.Branches ?? []) visit(branch.States);
    }
  };
  visit(definition.States);
  return overrides;
}

// AWS's order: the request's model constraints (ValidationException), then the state machine, then the name's
// characters, then the input's JSON.
function startExecution({ stateMachineArn, name, input }, options) {
  if (name !== undefined) checkNameLength(name);
  checkExecutionInputSize(input);
  const entry = machines.get(stateMachineArn);
  if (!entry) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
  const executionName = name ?? crypto.randomUUID();
  checkNameCharacters(executionName);
  const inputText = input ?? '{}';
  let inputValue;
  try {
    inputValue = JSON.parse(inputText);
  } catch (e) {
    throw new AwsError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${e.message}'`);
  }
  const arn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${entry.name}:${executionName}`;
  const existing = executions.get(arn);
  if (existing) {
    // AWS: the same name and input while the execution is running returns it again; a closed execution or
    // other input is ExecutionAlreadyExists.
    if (existing.status === 'RUNNING' && existing.input === inputText) {
      return { executionArn: arn, startDate: existing.startDate };
    }
    throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
  }
  const record = {
    executionArn: arn, stateMachineArn, name: executionName, status: 'RUNNING',
    input: inputText, startDate: Date.now() / 1000,
  };
  executions.set(arn, record);
  const guard = new PayloadGuard(entry.states, require);
  const run = entry.machine.run(inputValue, {
    overrides: {
      retryIntervalOverrides: retryOverrides(entry.definition, options.retryPauseMs),
      taskResourceLocalHandlers: guard.taskHandlers(),
    },
    context: { Execution: { Id: arn, Name: executionName, Input: inputValue, StartTime: new Date().toISOString() } },
  });
  const history = new History(entry.states);
  histories.set(arn, history);
  const logged = (async () => {
    for await (const event of run.eventLogs) {
      if (guard.failure) continue; // the execution failed on the quota: the interpreter's later events are not AWS's
      const failure = guard.inspect(event);
      if (failure) {
        history.recordOutputTooLarge(event, failure);
        run.abort();
      } else {
        history.record(event);
      }
    }
  })();
  const outcome = run.result.then(
    (output) => ({ status: 'SUCCEEDED', output: JSON.stringify(output) }),
    (error) => {
      const failure = error instanceof ExecutionError ? error.cause : error;
      return { status: 'FAILED', error: failure?.name ?? 'States.Runtime', cause: failure?.message ?? String(error) };
    },
  );
  // The status changes once the history is complete, as on AWS: whoever sees SUCCEEDED or FAILED and then reads the
  // history finds the execution's last event in it.
  // A state output over the quota is known only once the log is read, and overrules what the interpreter returned.
  Promise.allSettled([logged]).then(async () => {
    const ending = await outcome;
    Object.assign(record, guard.failure ? { status: 'FAILED', ...guard.failure } : ending, { stopDate: Date.now() / 1000 });
  });
  return { executionArn: arn, startDate: record.startDate };
}

function describeExecution({ executionArn }) {
  const record = executions.get(executionArn);
  if (!record) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
  return { ...record };
}

function listExecutions({ stateMachineArn, statusFilter }) {
  const list = [...executions.values()]
    .filter((e) => e.stateMachineArn === stateMachineArn && (!statusFilter || e.status === statusFilter))
    .map(({ executionArn, stateMachineArn: sm, name, status, startDate, stopDate }) =>
      ({ executionArn, stateMachineArn: sm, name, status, startDate, stopDate }));
  return { executions: list };
}

const HISTORY_PAGE = 1000; // AWS's largest maxResults

// nextToken is opaque to clients, as on AWS; here it encodes the offset of the next page.
function getExecutionHistory({ executionArn, maxResults, reverseOrder, nextToken, includeExecutionData }) {
  const history = histories.get(executionArn);
  if (!history) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
  const size = maxResults === undefined || maxResults === 0 ? HISTORY_PAGE : maxResults;
  if (!Number.isInteger(size) || size < 0 || size > HISTORY_PAGE) {
    throw new AwsError('ValidationException', `maxResults must be 0-${HISTORY_PAGE}, got ${maxResults}`);
  }
  const start = nextToken === undefined ? 0 : Number(Buffer.from(String(nextToken), 'base64url').toString('utf8'));
  if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidToken', `Invalid Token: '${nextToken}'`);
  const ordered = reverseOrder ? [...history.events].reverse() : history.events;
  const page = ordered.slice(start, start + size).map((e) => (includeExecutionData === false ? withoutData(e) : e));
  return start + size < ordered.length
    ? { events: page, nextToken: Buffer.from(String(start + size)).toString('base64url') }
    : { events: page };
}

// includeExecutionData=false: AWS leaves inputs and outputs out and keeps the rest (names, errors, resources).
function withoutData(event) {
  const copy = structuredClone(event);
  for (const details of Object.values(copy)) {
    if (details && typeof details === 'object') {
      for (const field of ['input', 'inputDetails', 'output', 'outputDetails', 'parameters']) delete details[field];
    }
  }
  return copy;
}

// The interpreter builds a new Lambda client for every Task, and the SDK reads AWS_ENDPOINT_URL_LAMBDA when it builds
// one, so the endpoint set here applies from the next Task on.
function setLambdaEndpoint({ endpoint }) {
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    throw new AwsError('ValidationException', `endpoint must be a URL, got '${endpoint}'`);
  }
  process.env.AWS_ENDPOINT_URL_LAMBDA = url.toString().replace(/\/$/, '');
  return { endpoint: process.env.AWS_ENDPOINT_URL_LAMBDA };
}

function listStateMachines() {
  return {
    stateMachines: [...machines.entries()].map(([arn, m]) =>
      ({ stateMachineArn: arn, name: m.name, type: 'STANDARD', creationDate: m.created })),
  };
}

const options = parseArgs(process.argv.slice(2));
for (const [name, file] of options.definitions) {
  const text = substitute(fs.readFileSync(file, 'utf8'), options.substitutions);
  createStateMachine({ name, definition: text });
}

const operations = {
  CreateStateMachine: (body) => createStateMachine(body),
  StartExecution: (body) => startExecution(body, options),
  DescribeExecution: describeExecution,
  ListExecutions: listExecutions,
  ListStateMachines: listStateMachines,
  GetExecutionHistory: getExecutionHistory,
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': crypto.randomUUID() });
      res.end(JSON.stringify(body));
    };
    try {
      const target = req.headers['x-amz-target'] ?? '';
      const operation = req.url === '/_automirror/lambda-endpoint'
        ? setLambdaEndpoint
        : operations[target.replace(/^AWSStepFunctions\./, '')];
      if (req.method !== 'POST' || !operation) {
        throw new AwsError('UnknownOperationException', `unsupported operation '${target}'`);
      }
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
      reply(200, operation(body));
    } catch (e) {
      if (e instanceof AwsError) reply(e.status, { __type: e.type, message: e.message });
      else reply(500, { __type: 'InternalFailure', message: String(e?.message ?? e) });
    }
  });
});

server.listen(options.port, options.host, () => {
  const address = server.address();
  console.log(JSON.stringify({
    listening: `http://${address.address}:${address.port}`,
    stateMachines: [...machines.keys()],
  }));
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
