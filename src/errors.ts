// The package's one error type. `code` says what kind of problem it is; the message says what and where.

export type ErrorCode =
  | 'WASM_LOAD' // the WASM core could not be found or compiled
  | 'OUT_OF_MEMORY' // an allocation would pass the memory cap or WASM's 4 GiB
  | 'BAD_FORMAT' // a file is malformed (safetensors, .bimamba, pickle, tokenizer JSON)
  | 'BAD_CHECKPOINT' // a checkpoint directory is incomplete or inconsistent
  | 'UNSAFE_PICKLE' // a pickle asks for something a state dict never needs
  | 'UNSUPPORTED' // a valid input this package does not handle (an unknown architecture, say)
  | 'BAD_ARGUMENT' // an invalid option or argument
  | 'IO' // a file could not be read or written (missing, permission denied, a failing disk)
  | 'BAD_TOKEN' // a token id outside the vocabulary
  | 'BAD_TEMPLATE' // a chat template that does not parse, or fails or runs past its budget while rendering
  | 'DISPOSED' // use of a model or session after dispose()
  | 'ABORTED' // generation stopped by an AbortSignal
  | 'CONFLICT' // a shared session store's entry changed since it was read (another server continued the session)
  | 'THREADS' // worker threads could not start, or one stopped answering
  | 'QUOTA'; // no room to store a cached model (the origin's quota, a full disk): the model loads without a copy

const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_AND_BREAKS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with control characters (C0 but newline and tab, DEL, C1, and the bidirectional overrides that
 * make text read in another order than it is) written as `\u001b` escapes: names and strings from a file
 * go into messages that end up on a terminal, where an escape sequence could rewrite the screen or the
 * title. The one function for it: the CLI writes everything through it (src/cli/terminal.ts).
 * `oneLine`: newlines and tabs too (a value shown on one line of a report must not start another).
 */
export function printable(text: string, oneLine = false): string {
  return text.replace(oneLine ? CONTROLS_AND_BREAKS : CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export class BimambaError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(printable(message), options);
    this.name = 'BimambaError';
    this.code = code;
  }
}

/** The BAD_FORMAT error: `what` is wrong with the file (or the part of one) that `where` names. */
export function badFormat(where: string, what: string, options?: { cause?: unknown }): BimambaError {
  return new BimambaError('BAD_FORMAT', `${where}: ${what}`, options);
}
