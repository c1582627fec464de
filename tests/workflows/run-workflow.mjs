// Runs one execution of an ASL file, unchanged, in aws-local-stepfunctions and prints what happened as one JSON line:
//   {"status":"SUCCEEDED"|"FAILED", "output", "error", "cause", "states":[names entered, in order], "events":[...]}
//
//   node22 run-workflow.mjs --definition statemachine/attach.asl.json --substitutions '{"Name":"value",...}'
//                           --input '{"instanceId":"i-..."}' [--retry-ms 50]
//
// ${Name} placeholders are replaced as CloudFormation's DefinitionSubstitutions does (every one must have a value, as
// CloudFormation requires). Task Resources are function ARNs, so the interpreter calls Lambda Invoke itself; point
// it at the local Lambda host with AWS_ENDPOINT_URL_LAMBDA. --retry-ms shortens every Retry pause (the ASL's own
// intervals are seconds) without touching the definition. Exit code 0 means the run completed (either status);
// 2 means the harness itself could not run.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(resolve(root, '.tools', 'node', 'package.json'));
const { StateMachine, ExecutionError } = require('aws-local-stepfunctions');

function fail(message) {
  process.stderr.write(`run-workflow: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { substitutions: '{}', input: '{}', retryMs: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) fail(`${flag} needs a value`);
    switch (flag) {
      case '--definition': args.definition = value; break;
      case '--substitutions': args.substitutions = value; break;
      case '--input': args.input = value; break;
      case '--retry-ms': args.retryMs = Number(value); break;
      default: fail(`unknown argument ${flag}`);
    }
  }
  if (!args.definition) fail('--definition is required');
  return args;
}

function substitute(text, values) {
  const missing = new Set();
  const result = text.replace(/\$\{([A-Za-z0-9]+)\}/g, (whole, name) => {
    if (!(name in values)) { missing.add(name); return whole; }
    return String(values[name]);
  });
  if (missing.size > 0) fail(`no substitution for ${[...missing].join(', ')}`);
  return result;
}

function statesWithRetry(states, found = []) {
  for (const [name, state] of Object.entries(states)) {
    if (state.Retry) found.push(name);
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) statesWithRetry(inner.States, found);
    for (const branch of state.Branches ?? []) statesWithRetry(branch.States, found);
  }
  return found;
}

const args = parseArgs(process.argv.slice(2));
let definition;
try {
  definition = JSON.parse(substitute(readFileSync(resolve(root, args.definition), 'utf8'), JSON.parse(args.substitutions)));
} catch (e) {
  fail(`cannot load ${args.definition}: ${e.message}`);
}

const machine = new StateMachine(definition, {
  awsConfig: {
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeys: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' } },
  },
});

const retryIntervalOverrides = {};
if (args.retryMs !== null) {
  for (const name of statesWithRetry(definition.States)) retryIntervalOverrides[name] = args.retryMs;
}

const execution = machine.run(JSON.parse(args.input), { overrides: { retryIntervalOverrides } });
const events = [];
const logging = (async () => {
  for await (const event of execution.eventLogs) {
    const { type, state, index, Error: error, Cause: cause } = event;
    events.push({ type, state: state?.name, index, error: event.error ?? error, cause: event.cause ?? cause });
  }
})();

const report = { status: 'SUCCEEDED', output: null, error: null, cause: null };
try {
  report.output = await execution.result;
} catch (e) {
  if (!(e instanceof ExecutionError)) fail(`the interpreter failed: ${e.stack ?? e}`);
  report.status = 'FAILED';
  report.error = e.cause?.name ?? 'Unknown';
  report.cause = e.cause?.message ?? String(e);
}
await logging;
report.states = events.filter((e) => e.type === 'StateEntered').map((e) => e.state);
report.events = events;
process.stdout.write(JSON.stringify(report) + '\n');
