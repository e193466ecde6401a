// `bimamba convert DIR OUT`: a checkpoint directory in, one .bimamba file out.
import { Presets, SingleBar } from 'cli-progress';
import { Option, type Command } from 'commander';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { convertCheckpoint } from '../convert/convert.js';
import { BimambaError, printable } from '../errors.js';
import { fileError } from './files.js';
import { toStderr, toStdout } from './terminal.js';

const MB = 1024 * 1024;

/** The output must be a file in a folder that exists: checked before a long conversion, not at its end. */
async function checkOutput(out: string): Promise<void> {
  const existing = await stat(out).catch(() => null);
  if (existing?.isDirectory()) throw new BimambaError('BAD_ARGUMENT', `${out} is a directory; give the path of the .bimamba file to write`);
  const folder = await stat(dirname(out)).catch((e) => Promise.reject(fileError(dirname(out), e, 'write into')));
  if (!folder.isDirectory()) throw new BimambaError('BAD_ARGUMENT', `cannot write into ${dirname(out)}: it is not a directory`);
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert a Mamba / Mamba-2 / Bi-Mamba checkpoint (HF transformers or mamba_ssm) to a .bimamba file')
    .argument('<dir>', 'checkpoint directory: *.safetensors (or a sharded index) or *.bin weights, config.json if it has one')
    .argument('<out>', 'the .bimamba file to write')
    .addOption(new Option('--dtype <type>', 'full-precision weights other than the head').choices(['f32', 'f16']).default('f32'))
    .addOption(new Option('--head <type>', 'embedding / LM head (int8: per-row scale; q4: 4 bits, a scale per 32 columns)').choices(['f32', 'f16', 'int8', 'q4']).default('f32'))
    .addOption(new Option('--binarize <method>', 'binarize in_proj/out_proj of a full-precision model post-training').choices(['ptb']))
    .option('--tokenizer <file>', 'tokenizer.json or SentencePiece tokenizer.model to embed (default: the one beside the weights)')
    .option('--chat-template <file>', "a Jinja chat template to store (default: tokenizer_config.json's chat_template, if any)")
    .option('--config <file>', "the model's config (config.json, or the Bi-Mamba release's mamba_config/*.json); default: config.json beside the weights, else inferred from the tensor shapes")
    .option('--follow-symlinks', 'read files of the checkpoint directory that are symbolic links to places outside it (refused by default)')
    .action(async (dir: string, out: string, o) => {
      await checkOutput(out);
      const bar = process.stderr.isTTY ? new SingleBar({ format: 'convert |{bar}| {percentage}% | {value}/{total} MB | {tensor}' }, Presets.shades_classic) : null;
      let started = false;
      const t0 = performance.now();
      const result = await convertCheckpoint(dir, out, {
        dtype: o.dtype, head: o.head, binarize: o.binarize, tokenizer: o.tokenizer, config: o.config, followSymlinks: o.followSymlinks === true, chatTemplate: o.chatTemplate,
        onWarning: (m) => toStderr(`warning: ${printable(m, true)}\n`), // names from the checkpoint's files: one line each
        onInfo: (m) => toStderr(`${printable(m, true)}\n`),
        onProgress: (done, total, name) => {
          const tensor = printable(name, true);
          if (!started) { bar?.start(Math.ceil(total / MB), 0, { tensor }); started = true; }
          bar?.update(Math.floor(done / MB), { tensor });
        },
      }).finally(() => bar?.stop());
      const c = result.config;
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      toStdout(`${out}: ${c.arch}${c.binarized ? ' (1-bit)' : ''}, d_model ${c.d_model}, ${c.n_layer} layers, vocab ${c.vocab_size}; ${(result.fileBytes / MB).toFixed(1)} MiB in ${seconds} s\n`);
    });
}
