#!/usr/bin/env node
// The `bimamba` command line. Each command lives in its own module and registers itself here.
// Exit codes: 0 done, 1 a runtime failure (a missing or bad file, say), 2 a usage mistake, 130 Ctrl-C.
// Every failure is one line on stderr, never a stack trace.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { BimambaError } from '../errors.js';
import { registerChat } from './chat.js';
import { registerConvert } from './convert.js';
import { registerEval } from './eval.js';
import { registerGenerate } from './generate.js';
import { registerInfo } from './info.js';
import { registerList } from './list.js';
import { UsageError } from './options.js';
import { registerPpl } from './ppl.js';
import { registerPull } from './pull.js';
import { registerRm } from './rm.js';
import { registerServe } from './serve.js';
import { toStderr } from './terminal.js';
import { registerTokenize } from './tokenize.js';

const COMMANDS = [registerConvert, registerInfo, registerGenerate, registerPpl, registerTokenize, registerServe, registerPull, registerList, registerRm, registerChat, registerEval];

/** The package's version: package.json is one folder above the bundle (dist/cli.js), two above src/cli/. */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (pkg.name === 'bimamba') return pkg.version;
    } catch {
      // not this one
    }
  }
  return 'unknown';
}

// A reader that stops early (`bimamba generate ... | head -1`) closes the pipe: that ends the output, quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command('bimamba')
  .description('run 1-bit Mamba (Bi-Mamba) language models')
  .version(version(), '-V, --version')
  .exitOverride(); // commander's own usage errors (inherited by the commands) come back here as CommanderError
for (const register of COMMANDS) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2; // commander has printed the message (or the help)
  } else if (e instanceof UsageError) {
    toStderr(`error: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof BimambaError) {
    // the user's to fix: the message says what and where
    toStderr(`error [${e.code}]: ${e.message}\n`);
    process.exitCode = 1;
  } else if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string') {
    toStderr(`error: ${e.message}\n`); // a system error the checks above did not foresee
    process.exitCode = 1;
  } else {
    throw e;
  }
}
