// Chat templates: a conversation (a list of messages) becomes the text a model reads, through the model's
// Jinja template (HF `chat_template`, rendered by @huggingface/jinja, the engine transformers.js uses).
// A template comes from a model file, an operator or a library caller: it is code, so it runs under a
// budget (steps, time between steps, the size of every value it makes, the numbers it passes to
// functions), and one that loops or blows up fails in bounded time and memory with a clear error.
import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';
import { BimambaError } from '../errors.js';

/** One message of a conversation. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
  /** The speaker's name, for templates that show it. */
  name?: string;
}

/**
 * The template of a model without one (a base model, as Bi-Mamba and the built-in model are): a plain
 * transcript, a system message first as it is, then "User: ..." and "Assistant: ..." paragraphs, and
 * "Assistant:" to prompt the reply. A base model then tends to write the next "User:" turn itself, so
 * replies through it stop at DEFAULT_CHAT_STOP.
 */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}" +
  "{% if message.role == 'system' %}{{ message.content }}\n\n" +
  "{% elif message.role == 'user' %}User: {{ message.content }}\n\n" +
  "{% else %}Assistant: {{ message.content }}\n\n{% endif %}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}Assistant:{% endif %}";

/** Where a reply rendered with the default template ends: the model starting the user's next turn. */
export const DEFAULT_CHAT_STOP = ['\nUser:'];

/** What a render may spend; past any of these it fails with BAD_TEMPLATE. */
export interface TemplateBudget {
  /** Expressions and statements evaluated (default 2,000,000). */
  maxSteps?: number;
  /** Milliseconds, checked every few hundred steps (default 2000). */
  maxMs?: number;
  /** Longest string any step makes, the output included (default 4,000,000 characters). */
  maxChars?: number;
  /** Longest list any step makes (default 100,000 items). */
  maxItems?: number;
}

/** The variables a template sees besides `messages`. */
export interface RenderOptions {
  /** End with the prompt for the assistant's reply (default true). */
  addGenerationPrompt?: boolean;
  bosToken?: string;
  eosToken?: string;
}

const DEFAULT_BUDGET: Required<TemplateBudget> = { maxSteps: 2_000_000, maxMs: 2000, maxChars: 4_000_000, maxItems: 100_000 };
/** Largest number a template may hand a function or filter (range(), indent(), tojson(indent=...)). */
const MAX_NUMBER_ARGUMENT = 100_000;
/** Longest template source. */
const MAX_TEMPLATE_CHARS = 1_000_000;

// The runtime's values, as far as the budget looks at them (the library does not export their classes).
interface Value {
  type: string;
  value: unknown;
}
interface Node {
  type: string;
  [k: string]: unknown;
}
type Hooked = Record<string, (...args: unknown[]) => unknown>;

const tooMuch = (what: string) => new BimambaError('BAD_TEMPLATE', `the chat template ${what}`);

function checkNumbers(values: Iterable<Value>): void {
  for (const v of values) {
    if ((v.type === 'IntegerValue' || v.type === 'FloatValue') && Math.abs(v.value as number) > MAX_NUMBER_ARGUMENT) {
      throw tooMuch(`passes ${v.value} to a function or filter (at most ${MAX_NUMBER_ARGUMENT})`);
    }
    if (v.type === 'KeywordArgumentsValue') checkNumbers((v.value as Map<string, Value>).values());
  }
}

const textLength = (v: Value) => (v.type === 'StringValue' ? (v.value as string).length : String(v.value).length);

/** A bounded range(): the count is known before a list is made. */
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

function strftimeNow(format: string): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat('en-US', { month: style }).format(d);
  return String(format).replace(/%[YmdbBHM%]/g, (t) =>
    t === '%Y' ? String(d.getFullYear()) : t === '%m' ? pad(d.getMonth() + 1) : t === '%d' ? pad(d.getDate()) : t === '%b' ? month('short') : t === '%B' ? month('long') : t === '%H' ? pad(d.getHours()) : t === '%M' ? pad(d.getMinutes()) : '%',
  );
}

/** A parsed chat template. */
export class ChatTemplate {
  /** The Jinja source. */
  readonly source: string;
  /** Whether this is DEFAULT_CHAT_TEMPLATE. */
  readonly isDefault: boolean;
  private readonly program: unknown;
  private readonly budget: Required<TemplateBudget>;

  /** Parse `source`; a template that does not parse is refused with BAD_TEMPLATE naming `where` it came from. */
  constructor(source: string, where = 'the chat template', budget: TemplateBudget = {}) {
    if (typeof source !== 'string') throw new BimambaError('BAD_TEMPLATE', `${where} must be a string`);
    if (source.length > MAX_TEMPLATE_CHARS) throw new BimambaError('BAD_TEMPLATE', `${where} is ${source.length} characters long (at most ${MAX_TEMPLATE_CHARS})`);
    this.source = source;
    this.isDefault = source === DEFAULT_CHAT_TEMPLATE;
    this.budget = { ...DEFAULT_BUDGET, ...budget };
    try {
      this.program = parse(tokenize(source, { lstrip_blocks: true, trim_blocks: true }));
    } catch (e) {
      throw new BimambaError('BAD_TEMPLATE', `${where} does not parse: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The text of `messages` as the model reads it. */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    const env = new Environment();
    // the library's globals, with range() and strftime_now() of our own (range's count is bounded below)
    env.set('false', false);
    env.set('true', true);
    env.set('none', null);
    env.set('False', false);
    env.set('True', true);
    env.set('None', null);
    env.set('raise_exception', (message: string) => {
      throw new BimambaError('BAD_TEMPLATE', `the chat template refused the messages: ${String(message)}`);
    });
    env.set('range', range);
    env.set('strftime_now', strftimeNow);
    env.set('messages', messages.map((m) => (m.name === undefined ? { role: m.role, content: m.content } : { role: m.role, content: m.content, name: m.name })));
    env.set('add_generation_prompt', options.addGenerationPrompt ?? true);
    env.set('bos_token', options.bosToken ?? '');
    env.set('eos_token', options.eosToken ?? '');
    env.set('tools', null);

    const interpreter = new Interpreter(env);
    this.bound(interpreter as unknown as Hooked);
    try {
      const out = (interpreter.run(this.program as Parameters<Interpreter['run']>[0]) as unknown as Value).value;
      return String(out);
    } catch (e) {
      if (e instanceof BimambaError) throw e;
      if (e instanceof RangeError) throw tooMuch(`ran out of room (${e.message}): it recurses too deeply or builds too much`);
      throw new BimambaError('BAD_TEMPLATE', `the chat template failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }

  /** Put the budget on every step of `it`: its own methods call these through `this`, so the instance's win. */
  private bound(it: Hooked): void {
    const { maxSteps, maxMs, maxChars, maxItems } = this.budget;
    const deadline = performance.now() + maxMs;
    let steps = 0;
    const evaluate = it.evaluate.bind(it);
    it.evaluate = (node: unknown, env: unknown) => {
      if (++steps > maxSteps) throw tooMuch(`took more than ${maxSteps} steps`);
      if ((steps & 255) === 0 && performance.now() > deadline) throw tooMuch(`took more than ${maxMs} ms`);
      const v = evaluate(node, env) as Value;
      if (v?.type === 'StringValue' && (v.value as string).length > maxChars) throw tooMuch(`made a string of ${(v.value as string).length} characters (at most ${maxChars})`);
      if ((v?.type === 'ArrayValue' || v?.type === 'TupleValue') && (v.value as unknown[]).length > maxItems) throw tooMuch(`made a list of ${(v.value as unknown[]).length} items (at most ${maxItems})`);
      return v;
    };
    // every call's and filter's arguments: no huge counts or widths (range(10**9), indent(10**9))
    const callArguments = it.evaluateCallArguments.bind(it);
    it.evaluateCallArguments = (args: unknown, env: unknown) => {
      const values = callArguments(args, env) as Value[];
      checkNumbers(values);
      return values;
    };
    const filterArguments = it.evaluateArguments.bind(it);
    it.evaluateArguments = (args: unknown, env: unknown) => {
      const r = filterArguments(args, env) as [Value[], Map<string, Value>];
      checkNumbers(r[0]);
      checkNumbers(r[1].values());
      return r;
    };
    // what a single step can multiply: join over a list, replace and indent over a string
    const applyFilter = it.applyFilter.bind(it);
    it.applyFilter = (operand: unknown, filter: unknown, env: unknown) => {
      const o = operand as Value;
      const f = filter as Node;
      const name = f.type === 'Identifier' ? f.value : (f.callee as Node | undefined)?.value;
      if (name === 'join' && (o.type === 'ArrayValue' || o.type === 'TupleValue')) {
        let total = 0;
        for (const item of o.value as Value[]) total += textLength(item) + 16;
        if (total > maxChars) throw tooMuch(`joins ${total} characters (at most ${maxChars})`);
      }
      if (name === 'indent' && o.type === 'StringValue') {
        const lines = (o.value as string).split('\n').length;
        if (lines * 64 + (o.value as string).length > maxChars) throw tooMuch(`indents ${lines} lines (too many)`);
      }
      return applyFilter(operand, filter, env);
    };
    const call = it.evaluateCallExpression.bind(it);
    it.evaluateCallExpression = (expr: unknown, env: unknown) => {
      const callee = (expr as Node).callee as Node;
      const property = callee.type === 'MemberExpression' ? (callee.property as Node) : null;
      if (property?.type === 'Identifier' && property.value === 'replace') {
        const target = it.evaluate(callee.object, env) as Value;
        const args = it.evaluateCallArguments((expr as Node).args, env) as Value[];
        if (target.type === 'StringValue' && args.length >= 2 && args[0].type === 'StringValue' && args[1].type === 'StringValue') {
          const s = target.value as string;
          const from = args[0].value as string;
          const to = args[1].value as string;
          const count = from === '' ? s.length + 1 : s.split(from).length - 1;
          if (s.length + count * Math.max(0, to.length - from.length) > maxChars) throw tooMuch(`replaces into a string over ${maxChars} characters`);
        }
      }
      return call(expr, env);
    };
  }
}

/** The template a model uses: `override` if given, else the model file's `chat_template`, else the default. */
export function chatTemplateOf(fromModel: string | null, override?: string | ChatTemplate): ChatTemplate {
  if (override instanceof ChatTemplate) return override;
  if (override !== undefined) return new ChatTemplate(override, 'the given chat template');
  if (fromModel) return new ChatTemplate(fromModel, "the model file's chat_template");
  return new ChatTemplate(DEFAULT_CHAT_TEMPLATE, 'the default chat template');
}

const ROLES = new Set(['system', 'user', 'assistant']);
/** Most messages in one conversation. */
export const MAX_MESSAGES = 4096;

/** Checks a library caller's messages: an array of { role, content } with a known role and string content. */
export function checkMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages)) throw new BimambaError('BAD_ARGUMENT', 'messages must be an array of { role, content }');
  if (messages.length === 0) throw new BimambaError('BAD_ARGUMENT', 'messages is empty');
  if (messages.length > MAX_MESSAGES) throw new BimambaError('BAD_ARGUMENT', `messages has ${messages.length} items (at most ${MAX_MESSAGES})`);
  return messages.map((m, i) => {
    if (typeof m !== 'object' || m === null) throw new BimambaError('BAD_ARGUMENT', `messages[${i}] must be an object { role, content }`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role)) throw new BimambaError('BAD_ARGUMENT', `messages[${i}].role must be 'system', 'user' or 'assistant'; got ${JSON.stringify(role)}`);
    if (typeof content !== 'string') throw new BimambaError('BAD_ARGUMENT', `messages[${i}].content must be a string`);
    return { role: role as ChatMessage['role'], content };
  });
}
