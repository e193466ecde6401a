// Parsers for CLI flags and the usage error: a typo is an error naming the flag, found before anything
// loads, with exit code 2 (a runtime failure exits with 1).
import { InvalidArgumentError } from 'commander';
import { BimambaError } from '../errors.js';
import { MAX_TEMPERATURE } from '../generate/defaults.js';
import { resolveSampling, type SamplingOptions } from '../generate/sampler.js';

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {}

export function parseNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`'${v}' is not a number`);
  return n;
}

export function parseInteger(v: string): number {
  const n = parseNumber(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`'${v}' is not an integer`);
  return n;
}

/** An integer flag with a lower bound. */
export const integerAtLeast = (min: number) => (v: string): number => {
  const n = parseInteger(v);
  if (n < min) throw new InvalidArgumentError(`${n} is below ${min}`);
  return n;
};

/** An integer flag within [min, max]. */
export const integerIn = (min: number, max: number) => (v: string): number => {
  const n = parseInteger(v);
  if (n < min || n > max) throw new InvalidArgumentError(`${n} is not in [${min}, ${max}]`);
  return n;
};

/** A sampling flag, checked by the library's own rules (resolveSampling), so the two never disagree. */
export const samplingFlag = (name: keyof SamplingOptions, integer = false) => (v: string): number => {
  const n = integer ? parseInteger(v) : parseNumber(v);
  try {
    resolveSampling({ [name]: n });
  } catch (e) {
    // "invalid topP: 2 (in (0, 1])" -> "it must be in (0, 1]": commander puts the flag and value before it
    if (e instanceof BimambaError) throw new InvalidArgumentError(`it must be ${/\((.*)\)$/.exec(e.message)?.[1] ?? e.message}`);
    throw e;
  }
  return n;
};

/** -t/--temperature: the library's rule, and at most MAX_TEMPERATURE, as the server takes it. */
export function temperatureFlag(v: string): number {
  const t = samplingFlag('temperature')(v);
  if (t > MAX_TEMPERATURE) throw new InvalidArgumentError(`it must be in [0, ${MAX_TEMPERATURE}] (as the server takes it)`);
  return t;
}

/** Flags given more than once gather into a list: `--stop a --stop b`. */
export const collect = (v: string, list: string[]): string[] => [...list, v];

/** Backslash escapes as llama.cpp's -e reads them: \n \r \t \0 \\ \' \" \xHH; any other stays as written. */
export function unescape(s: string): string {
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '0': '\0', '\\': '\\', "'": "'", '"': '"' };
  return s.replace(/\\(x[0-9a-fA-F]{2}|[nrt0\\'"])/g, (_, c: string) => (c[0] === 'x' ? String.fromCharCode(parseInt(c.slice(1), 16)) : simple[c]));
}
