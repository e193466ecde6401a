// The documentation's Markdown files and their fenced code blocks, as the docs tests read them.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** README.md, bench/README.md and every .md file under docs/ (any depth), as paths from the root. */
export function docFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) found.push(relative(ROOT, path).split('\\').join('/'));
    }
  };
  walk(join(ROOT, 'docs'));
  return ['README.md', 'bench/README.md', ...found.sort()];
}

export interface Fence {
  /** The Markdown file, from the root. */
  file: string;
  /** 1-based line of the first line of code (the line after the opening fence). */
  line: number;
  /** The info string's first word, lower case ('' when none). */
  lang: string;
  /** The info string's other words (`run`, `fragment`). */
  flags: string[];
  code: string;
}

/**
 * Every fenced code block (``` or ~~~, indented or not, as in a list item) of a Markdown text. The code
 * loses the fence's indentation; an unclosed fence runs to the end of the file, as CommonMark reads it.
 */
export function fences(file: string, text: string): Fence[] {
  const lines = text.split('\n');
  const found: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, marker, info] = open;
    const words = info.trim().split(/\s+/).filter(Boolean);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]);
      if (close && close[1][0] === marker[0] && close[1].length >= marker.length) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j].trimStart());
    }
    found.push({ file, line: i + 2, lang: (words[0] ?? '').toLowerCase(), flags: words.slice(1), code: body.join('\n') + '\n' });
    i = j;
  }
  return found;
}

/** The fenced blocks of every documentation file. */
export function allFences(): Fence[] {
  return docFiles().flatMap((file) => fences(file, readFileSync(join(ROOT, file), 'utf8')));
}

/** Paragraphs (blank-line separated blocks; a list item is a block of its own), with their first line. */
export function paragraphs(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let start = -1;
  let block: string[] = [];
  const flush = () => {
    if (block.length) out.push({ line: start + 1, text: block.join('\n') });
    block = [];
  };
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || /^\s*[-*] /.test(line)) flush();
    if (line.trim() === '') return;
    if (!block.length) start = i;
    block.push(line);
  });
  flush();
  return out;
}
