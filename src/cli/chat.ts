// `bimamba chat`: an interactive conversation, as llama-cli and `ollama run` have. The history is kept in
// one session: each turn reads only its new text (the user's message, then the reply as the template
// writes it), never the conversation again. A reply is sampled in a fork of the session, so the session
// then reads the reply as the template renders it (without a stop string the model may have begun).
// /reset starts over; Ctrl-C ends a reply (at the prompt it says how to quit); Ctrl-D quits.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ChatTemplate, chatTemplateOf, DEFAULT_CHAT_STOP, type ChatMessage } from '../chat/template.js';
import { BimambaError } from '../errors.js';
import { GENERATION_DEFAULTS as D } from '../generate/defaults.js';
import { addModelOptions, loadModelFromFlags } from './model-options.js';
import { integerAtLeast, parseInteger, samplingFlag } from './options.js';
import { dataToStdout, toStderr, toStdout } from './terminal.js';

export function registerChat(program: Command): void {
  const cmd = program.command('chat').description('chat with the model in the terminal (/reset starts over, Ctrl-C ends a reply, Ctrl-D quits)');
  addModelOptions(cmd)
    .option('--system <text>', 'a system message to start the conversation with')
    .option('--chat-template <file>', "a Jinja chat template instead of the model file's")
    .option('-n, --max-tokens <n>', 'most tokens per reply', integerAtLeast(1), 256)
    .option('-t, --temperature <t>', 'sampling temperature; 0 is greedy', samplingFlag('temperature'), D.temperature)
    .option('--top-k <k>', 'keep the k most likely tokens (0: off)', samplingFlag('topK', true), D.topK)
    .option('--top-p <p>', 'nucleus sampling threshold (1: off)', samplingFlag('topP'), D.topP)
    .option('--repetition-penalty <r>', 'penalty on recent tokens (1: off)', samplingFlag('repetitionPenalty'), D.repetitionPenalty)
    .option('-s, --seed <n>', 'random seed', parseInteger)
    .option('--stats', 'after each reply, print to stderr the tokens it read and generated')
    .action(async (o) => {
      let source: string | undefined;
      if (o.chatTemplate !== undefined) {
        try {
          source = await readFile(o.chatTemplate, 'utf8');
        } catch (e) {
          throw new BimambaError('BAD_ARGUMENT', `cannot read the chat template ${o.chatTemplate}: ${(e as Error).message}`, { cause: e });
        }
        new ChatTemplate(source, o.chatTemplate);
      }
      const model = await loadModelFromFlags(o);
      const tok = model.tokenizer;
      if (!tok) throw new BimambaError('UNSUPPORTED', 'this model file has no tokenizer: chat needs one');
      const template = chatTemplateOf(model.chatTemplate, source);
      const special = (id: number | null) => (id === null ? '' : (tok.idToToken(id) ?? ''));
      const vars = { bosToken: special(model.bosTokenId), eosToken: special(model.eosTokenId) };
      const stop = template.isDefault ? DEFAULT_CHAT_STOP : [];
      const tty = process.stdin.isTTY === true;
      const session = model.createSession();
      const start: ChatMessage[] = o.system ? [{ role: 'system', content: o.system }] : [];
      let messages = [...start];
      let read = ''; // the text the session has read

      /** Bring the session to `text`: only what follows what it read, or all of it after a reset. */
      const readUpTo = (text: string) => {
        let rest = text;
        if (read && text.startsWith(read)) rest = text.slice(read.length);
        else {
          session.reset();
          const bos = template.isDefault && model.addBosByDefault && model.bosTokenId !== null ? [model.bosTokenId] : [];
          if (bos.length) session.feed(bos);
        }
        const ids = rest ? tok.encode(rest) : [];
        if (ids.length) session.feed(ids);
        read = text;
        return ids.length;
      };

      const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: tty ? '> ' : '', terminal: tty });
      let reply: AbortController | null = null;
      rl.on('SIGINT', () => {
        if (reply) reply.abort();
        else toStdout('\n(Ctrl-D or /bye quits)\n');
        if (!reply) rl.prompt();
      });
      // without a terminal (input piped in) Ctrl-C is a signal: it still ends a reply, else the command (130)
      const onSigint = () => {
        if (reply) reply.abort();
        else process.exit(130);
      };
      if (!tty) process.on('SIGINT', onSigint);
      if (tty) toStdout(`chat with ${o.model ?? 'the built-in model'} (${template.isDefault ? 'default template' : 'its chat template'}); /reset starts over, Ctrl-D quits\n`);
      rl.prompt();
      try {
        for await (const line of rl) {
          const text = line.trim();
          if (text === '/bye' || text === '/exit') break;
          if (text === '/reset') {
            messages = [...start];
            read = '';
            session.reset();
            toStdout('(the conversation starts over)\n');
            rl.prompt();
            continue;
          }
          if (!text) {
            rl.prompt();
            continue;
          }
          messages.push({ role: 'user', content: text });
          const fed = readUpTo(template.render(messages, { ...vars, addGenerationPrompt: true }));
          reply = new AbortController();
          const branch = session.fork();
          let answer = '';
          try {
            for await (const item of model.generate([], {
              session: branch, maxTokens: o.maxTokens, temperature: o.temperature, topK: o.topK, topP: o.topP,
              repetitionPenalty: o.repetitionPenalty, seed: o.seed, stop, signal: reply.signal, abort: 'finish',
            })) {
              const piece = answer ? item.text : item.text.trimStart();
              answer += piece;
              dataToStdout(piece);
              if (item.finishReason && o.stats) toStderr(`[read ${fed} new tokens; ${item.usage!.generatedTokens} generated; ${item.finishReason}]\n`);
            }
          } finally {
            branch.dispose();
            reply = null;
          }
          toStdout('\n');
          messages.push({ role: 'assistant', content: answer.trim() });
          readUpTo(template.render(messages, { ...vars, addGenerationPrompt: false }));
          rl.prompt();
        }
      } finally {
        process.off('SIGINT', onSigint);
        rl.close();
        session.dispose();
        model.dispose();
      }
      if (tty) toStdout('\n');
    });
}
