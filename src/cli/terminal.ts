// Everything the CLI writes to stdout and stderr goes through here, and through printable() on its way:
// model files carry strings (tensor names, metadata, a tokenizer's pieces) that could hold terminal escape
// sequences. tests/cli/terminal.test.ts checks that no other module of src/cli writes to either stream.
import { printable } from '../errors.js';

/** A report or message line to stdout, control characters escaped. */
export function toStdout(text: string): void {
  process.stdout.write(printable(text));
}

/** A message to stderr, control characters escaped. */
export function toStderr(text: string): void {
  process.stderr.write(printable(text));
}

/**
 * Data to stdout (generated text, decoded tokens): escaped when stdout is a terminal, where an escape
 * sequence would act; written as it is into a pipe or a file, where it is the data asked for.
 */
export function dataToStdout(text: string): void {
  process.stdout.write(process.stdout.isTTY ? printable(text) : text);
}

/** A progress line on stderr that overwrites the last one (a carriage return, then the text escaped). */
export function progressToStderr(text: string): void {
  process.stderr.write('\r' + printable(text));
}
