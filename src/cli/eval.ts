// `bimamba eval --tasks FILE.jsonl`: zero-shot multiple choice (context, choices, gold per line), acc and
// acc_norm as lm-evaluation-harness computes them (src/eval/multiple-choice.ts).
import type { Command } from 'commander';
import { evaluateMultipleChoice, readTasks } from '../eval/multiple-choice.js';
import { readTextFile } from './files.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { integerAtLeast } from './options.js';
import { progressToStderr, toStderr, toStdout } from './terminal.js';

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('zero-shot multiple choice: acc and acc_norm as lm-evaluation-harness computes them')
    .requiredOption('--tasks <file>', 'questions, one JSON object per line: {"context": "...", "choices": ["...", ...], "gold": 0}');
  addModelOptions(cmd)
    .option('--limit <n>', 'only the first n questions', integerAtLeast(1))
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      let items = readTasks(await readTextFile(o.tasks), o.tasks); // before the model loads
      if (o.limit) items = items.slice(0, o.limit);
      const model = await loadModelFromFlags(o);
      try {
        const t0 = performance.now();
        const r = await evaluateMultipleChoice(model, items, (done) => {
          if (!o.json && process.stderr.isTTY) progressToStderr(`${done}/${items.length} questions`);
        });
        if (!o.json && process.stderr.isTTY) toStderr('\n');
        const seconds = (performance.now() - t0) / 1000;
        if (o.json) toStdout(JSON.stringify({ tasks: o.tasks, model: o.model ?? 'built-in', ...r, seconds }, null, 2) + '\n');
        else toStdout(`${r.n} questions: acc ${(100 * r.acc).toFixed(2)} ± ${(100 * r.accStderr).toFixed(2)}, acc_norm ${(100 * r.accNorm).toFixed(2)} ± ${(100 * r.accNormStderr).toFixed(2)} (${seconds.toFixed(1)} s)\n`);
      } finally {
        model.dispose();
      }
    });
}
