// The incremental recognizer: which bytes may come next, and the state after one.
//
// A parse in progress is a stack of positions in the program (what to match now, then where to go back
// to), like llama.cpp's grammar stacks; an ambiguous grammar has several at once, so a state is a set of
// stacks. Stacks are interned nodes (position, parent node), so equal stacks are one number and a state is
// a sorted list of numbers, itself interned: the state after a byte is computed once per (state, byte) and
// then read from a table. A call to a rule at the end of an alternative does not keep a return node (tail
// calls), so `x*` and the JSON grammars' repetitions run in constant depth.
//
// Node 0 is "accepted": the grammar can end here. The empty state (id DEAD) allows nothing.
import { BimambaError } from '../errors.js';
import { BYTES, END, REF, type Program } from './compile.js';

/** Most stacks one state may hold (an ambiguous grammar could otherwise multiply them with every byte). */
export const MAX_STACKS = 4096;
/** Most distinct states one generation may reach. */
export const MAX_STATES = 16384;
/** Most stack nodes one generation may make. */
export const MAX_NODES = 1 << 21;

export const DEAD = 0;
const ACCEPT_NODE = 0;

function tooComplex(what: string): BimambaError {
  return new BimambaError('BAD_ARGUMENT', `grammar: ${what}`);
}

export class Recognizer {
  readonly program: Program;
  private nodePos: Int32Array = new Int32Array(1024);
  private nodeParent: Int32Array = new Int32Array(1024);
  private nodeCount = 1; // node 0: accepted
  private nodeIds = new Map<number, number>();
  /** Per state: its sorted node ids. */
  private states: Int32Array[] = [];
  private stateIds = new Map<string, number>();
  /** Per state: the next state + 1 for each byte, 0 while not computed. */
  private next: Int32Array[] = [];
  readonly initial: number;
  /** Parse steps so far (stacks advanced, rules expanded, stacks made), and where they must stop. */
  work = 0;
  workLimit = Infinity;
  workStart = 0;

  constructor(program: Program) {
    this.program = program;
    this.intern(new Int32Array(0)); // DEAD
    const out = new Set<number>();
    this.workLimit = 20_000_000; // the start alone must not be a hostile grammar's long computation
    this.expand(0, -1, out, 0);
    this.workLimit = Infinity;
    this.initial = this.intern(Int32Array.from(out).sort());
  }

  /** How many states and stack nodes this recognizer holds (its caches grow with use). */
  get size(): { states: number; nodes: number } {
    return { states: this.states.length, nodes: this.nodeCount };
  }

  /** Whether the grammar can end in this state. */
  accepts(state: number): boolean {
    const s = this.states[state];
    return s.length > 0 && s[0] === ACCEPT_NODE;
  }

  /** Whether some byte can follow in this state. */
  canContinue(state: number): boolean {
    const s = this.states[state];
    return s.length > (this.accepts(state) ? 1 : 0);
  }

  /** The state after `byte` (DEAD when the byte is not allowed). */
  step(state: number, byte: number): number {
    const row = this.next[state];
    const known = row[byte];
    if (known) return known - 1;
    const { kind, arg, sets } = this.program;
    const out = new Set<number>();
    const stacks = this.states[state];
    this.work += stacks.length;
    for (const node of stacks) {
      if (node === ACCEPT_NODE) continue;
      const pos = this.nodePos[node];
      if (kind[pos] !== BYTES) continue;
      const set = arg[pos];
      if ((sets[set * 8 + (byte >> 5)] >>> (byte & 31)) & 1) this.expand(pos + 1, this.nodeParent[node], out, 0);
    }
    const s = out.size ? this.intern(Int32Array.from(out).sort()) : DEAD;
    row[byte] = s + 1;
    return s;
  }

  /** The state after a run of bytes. */
  walk(state: number, bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length && state !== DEAD; i++) state = this.step(state, bytes[i]);
    return state;
  }

  /** Add to `out` the stacks with a byte to match on top, reached from "match at pos, then return to parent". */
  private expand(pos: number, parent: number, out: Set<number>, depth: number): void {
    const { kind, arg, alts } = this.program;
    for (;;) {
      const k = kind[pos];
      if (++this.work > this.workLimit) throw tooComplex(`too costly: the tokens allowed at one point take more than ${this.workLimit - this.workStart} parse steps (a grammar with many parses alive at once)`);
      if (k === BYTES) {
        out.add(this.node(pos, parent));
        break;
      }
      if (k === END) {
        if (parent < 0) {
          out.add(ACCEPT_NODE);
          break;
        }
        pos = this.nodePos[parent];
        parent = this.nodeParent[parent];
        continue;
      }
      // REF: every alternative of the rule, returning to what follows (nothing to return to at the end)
      if (depth > 4096) throw tooComplex(`rules nest deeper than 4096 calls without matching a character (in rule ${JSON.stringify(this.program.names[arg[pos]])})`);
      const ret = kind[pos + 1] === END ? parent : this.node(pos + 1, parent);
      const starts = alts[arg[pos]];
      for (let i = 0; i < starts.length; i++) this.expand(starts[i], ret, out, depth + 1);
      break;
    }
    if (out.size > MAX_STACKS) {
      throw tooComplex(`the grammar is too ambiguous: more than ${MAX_STACKS} parses at once (around rule ${JSON.stringify(this.program.names[this.program.arg[pos]] ?? 'root')})`);
    }
  }

  private node(pos: number, parent: number): number {
    const key = pos * 4194304 + (parent + 1);
    let id = this.nodeIds.get(key);
    if (id !== undefined) return id;
    id = this.nodeCount++;
    if (id >= MAX_NODES) throw tooComplex(`the parse grew past ${MAX_NODES} stack nodes`);
    if (id >= this.nodePos.length) {
      const pos2 = new Int32Array(this.nodePos.length * 2);
      pos2.set(this.nodePos);
      this.nodePos = pos2;
      const parent2 = new Int32Array(this.nodeParent.length * 2);
      parent2.set(this.nodeParent);
      this.nodeParent = parent2;
    }
    this.nodePos[id] = pos;
    this.nodeParent[id] = parent;
    this.nodeIds.set(key, id);
    return id;
  }

  private intern(nodes: Int32Array): number {
    const key = nodes.join(',');
    let id = this.stateIds.get(key);
    if (id !== undefined) return id;
    id = this.states.length;
    if (id >= MAX_STATES) throw tooComplex(`the parse reached more than ${MAX_STATES} distinct states`);
    this.states.push(nodes);
    this.next.push(new Int32Array(256));
    this.stateIds.set(key, id);
    return id;
  }
}
