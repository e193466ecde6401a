// The figures in the docs that a build determines, checked against the build: the WASM binaries' sizes
// (each stated beside `ls -l dist/*.wasm`), the run-time dependencies (beside "package.json
// `dependencies`") and the built-in model's size in bytes. Other figures are measurements, each stated
// with the command that measured it; they live in the docs, not here.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docFiles, paragraphs, ROOT } from './markdown.js';

const docs = docFiles().map((file) => ({ file, text: readFileSync(join(ROOT, file), 'utf8') }));
const blocks = docs.flatMap(({ file, text }) => paragraphs(text).map((p) => ({ where: `${file}:${p.line}`, text: p.text })));

/** Sizes in bytes of dist/*.wasm (the four builds). */
function wasmSizes(): number[] {
  const dist = join(ROOT, 'dist');
  return readdirSync(dist)
    .filter((name) => name.endsWith('.wasm'))
    .map((name) => statSync(join(dist, name)).size);
}

/** Sizes a text states: "40.3 KB" (1000 bytes), "39.4 KiB" (1024), "40,343 bytes"; with the decimals given. */
function statedSizes(text: string): { text: string; bytes: number; step: number }[] {
  const found: { text: string; bytes: number; step: number }[] = [];
  for (const m of text.matchAll(/(\d[\d,]*(?:\.(\d+))?)\s*(KB|KiB|kB|bytes)\b/g)) {
    const value = Number(m[1].replace(/,/g, ''));
    const unit = m[3] === 'KiB' ? 1024 : m[3] === 'bytes' ? 1 : 1000;
    found.push({ text: m[0], bytes: value * unit, step: unit * 10 ** -(m[2]?.length ?? 0) });
  }
  return found;
}

describe('figures a build determines', () => {
  it('the WASM binaries are as large as the docs say (`ls -l dist/*.wasm`), within the rounding shown', () => {
    const sizes = wasmSizes();
    expect(sizes.length, 'dist/*.wasm: run npm run build').toBe(4);
    // every paragraph that names a WASM build and gives a size must cite the command and match the build
    const wasmBlocks = blocks.filter((b) => /bimamba[\w-]*\.wasm/.test(b.text) && statedSizes(b.text).length > 0);
    expect(wasmBlocks.length, 'the docs state the binaries\' size somewhere').toBeGreaterThan(0);
    for (const block of wasmBlocks) {
      expect(block.text, `${block.where}: a size of a WASM build without \`ls -l dist/*.wasm\` beside it`).toContain('ls -l dist/*.wasm');
      for (const stated of statedSizes(block.text)) {
        const matches = sizes.some((size) => Math.abs(size - stated.bytes) <= stated.step / 2);
        expect(matches, `${block.where}: "${stated.text}", but dist/*.wasm are ${sizes.join(', ')} bytes`).toBe(true);
      }
    }
  });

  it("the run-time dependencies listed are package.json's `dependencies`, every one of them", () => {
    const dependencies = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies ?? {}).sort();
    // every paragraph that lists them ("run-time dependencies … are `…`") lists them in the one checked form
    const lists = blocks.filter((b) => /run-time dependencies(?: \(package\.json `dependencies`\))? are `/.test(b.text.replace(/\n/g, ' ')));
    expect(lists.some((b) => b.where.startsWith('README.md:')), 'the README lists the run-time dependencies').toBe(true);
    for (const block of lists) {
      const list = /run-time dependencies \(package\.json `dependencies`\) are ((?:`[^`]+`(?:,\s*|\s+and\s+|,\s+and\s+)?)+)/.exec(block.text.replace(/\n/g, ' '));
      expect(list, `${block.where}: "run-time dependencies (package.json \`dependencies\`) are \`a\`, \`b\` and \`c\`"`).not.toBeNull();
      const named = [...list![1].matchAll(/`([^`]+)`/g)].map((m) => m[1]).sort();
      expect(named, block.where).toEqual(dependencies);
    }
  });

  it('the built-in model is as many bytes as the docs say', () => {
    const model = join(ROOT, 'models', 'default.bimamba');
    expect(existsSync(model)).toBe(true);
    const stated = docs.flatMap(({ file, text }) =>
      [...text.matchAll(/`models\/default\.bimamba` \(([\d,]+) bytes/g)].map((m) => ({ file, bytes: Number(m[1].replace(/,/g, '')) })),
    );
    expect(stated.length).toBeGreaterThan(0);
    for (const s of stated) expect(s.bytes, s.file).toBe(statSync(model).size);
  });
});
