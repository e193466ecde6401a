// What tests use to catch the package's errors: the BimambaError a call throws or a promise rejects with.
// Anything else thrown fails the test as it is; nothing thrown at all fails it too.
import { BimambaError } from '../../src/errors.js';

/** The BimambaError that `f()` throws. */
export function thrownBy(f: () => unknown): BimambaError {
  try {
    f();
  } catch (e) {
    if (e instanceof BimambaError) return e;
    throw e;
  }
  throw new Error('expected a BimambaError, nothing was thrown');
}

/** The BimambaError a promise rejects with. */
export async function rejection(p: Promise<unknown>): Promise<BimambaError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BimambaError) return e;
    throw e;
  }
  throw new Error('expected a BimambaError, the promise resolved');
}
