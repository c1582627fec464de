// The Step Functions limits a test must meet before AWS refuses them (checked against the API reference and the
// service quotas page; botocore's service model carries the same numbers):
//
// - Names (StartExecution's and CreateStateMachine's `name`): the model's length 1-80 is checked first, as every
//   model constraint is, and answers ValidationException in AWS's Coral wording; a forbidden character answers
//   InvalidName. Forbidden: whitespace, < > { } [ ], ? *, " # % \ ^ | ~ ` $ & , ; : /, control characters
//   U+0000-001F and U+007F-009F, U+FFFE-FFFF and lone surrogates. Length counts UTF-16 code units, as the Java
//   service does.
// - StartExecution's `input`: at most 262,144 bytes of UTF-8 (a model constraint, so ValidationException); text that
//   is not JSON is InvalidExecutionInput.
// - Payload size quota: a state's input after Parameters, a Task's result and a state's output (the last one is the
//   execution's output) at most 262,144 bytes of UTF-8 JSON; more fails the execution with States.DataLimitExceeded,
//   a terminal error: no Retry or Catch matches it, States.ALL included.

export const PAYLOAD_LIMIT_BYTES = 262144;
export const NAME_MAX_LENGTH = 80;

export class AwsError extends Error {
  constructor(type, message, status = 400) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

/** Coral's answer to a request member that breaks its model constraint. */
function validationError(detail) {
  return new AwsError('ValidationException', `1 validation error detected: ${detail}`);
}

// \s is JavaScript's Unicode whitespace; the rest is the API reference's list, character for character.
// With the u flag a surrogate pair is one code point, so the surrogate range matches only a lone surrogate.
const FORBIDDEN_IN_NAME = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f\ufffe\uffff\ud800-\udfff]/u;

/** The model constraint of a `name` member (1-80 characters): checked with the other model constraints, first. */
export function checkNameLength(name, member = 'name') {
  if (name === undefined || name === null) {
    throw validationError(`Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  if (name.length < 1) {
    throw validationError(`Value '${name}' at '${member}' failed to satisfy constraint: Member must have length greater than or equal to 1`);
  }
  if (name.length > NAME_MAX_LENGTH) {
    throw validationError(`Value '${name}' at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${NAME_MAX_LENGTH}`);
  }
}

/** The service's own rule on a name's characters, checked after the model's. */
export function checkNameCharacters(name) {
  if (FORBIDDEN_IN_NAME.test(name)) throw new AwsError('InvalidName', `Invalid Name: '${name}'`);
}

/** StartExecution's `input` model constraint: bytes of UTF-8, not characters. */
export function checkExecutionInputSize(input) {
  if (input !== undefined && input !== null && Buffer.byteLength(input, 'utf8') > PAYLOAD_LIMIT_BYTES) {
    throw validationError(`Value at 'input' failed to satisfy constraint: Member must have size less than or equal to ${PAYLOAD_LIMIT_BYTES} bytes in UTF-8 encoding`);
  }
}

/** A payload's size as Step Functions measures it: its JSON text in UTF-8. */
export function payloadBytes(value) {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

export function exceedsPayloadLimit(value) {
  return payloadBytes(value) > PAYLOAD_LIMIT_BYTES;
}

/**
 * States.DataLimitExceeded as the interpreter's own terminal errors are made (its States.Runtime): the retryable and
 * catchable flags it reads are false, so no Retry or Catch field matches it and the execution fails with it.
 */
export class DataLimitExceededError extends Error {
  constructor(cause) {
    super(cause);
    this.name = 'States.DataLimitExceeded';
  }

  get isRetryable() {
    return false;
  }

  get isCatchable() {
    return false;
  }
}

/** AWS's cause, naming the Lambda function (a Task's result) or the state (a state's output). */
export function resultTooLarge(stateOrResource) {
  return `The state/task '${stateOrResource}' returned a result with a size exceeding the maximum number of bytes service limit.`;
}

/** Our wording: AWS's cause for a state input over the quota after Parameters was not found in its documentation. */
export function inputTooLarge(state) {
  return `The state/task '${state}' has an input with a size exceeding the maximum number of bytes service limit.`;
}
