// Parsers for numeric CLI flags: a typo is an error naming the flag's value, not a silent NaN.
import { InvalidArgumentError } from 'commander';

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
