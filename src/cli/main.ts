#!/usr/bin/env node
// The `bimamba` command line. Each command lives in its own module and registers itself here.
import { Command } from 'commander';
import { BimambaError } from '../errors.js';
import { registerConvert } from './convert.js';
import { registerGenerate } from './generate.js';
import { registerInfo } from './info.js';
import { registerPpl } from './ppl.js';
import { registerServe } from './serve.js';

const COMMANDS = [registerConvert, registerInfo, registerGenerate, registerPpl, registerServe];

const program = new Command('bimamba').description('run 1-bit Mamba (Bi-Mamba) language models');
for (const register of COMMANDS) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // A BimambaError is the user's to fix: print its message, not a stack trace.
  if (e instanceof BimambaError) {
    process.stderr.write(`error [${e.code}]: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
