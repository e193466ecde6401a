import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import dts from 'rollup-plugin-dts';
import { fileURLToPath } from 'node:url';

const NO_NODE = fileURLToPath(new URL('src/host/no-node.ts', import.meta.url));

/** The Worker build: src/host/node.ts becomes no-node.ts, and any other `node:` import fails the build. */
const workerHost = {
  name: 'worker-host',
  resolveId(source, importer) {
    if (source.startsWith('node:')) this.error(`the Worker build must not import ${source} (from ${importer})`);
    if (/[\\/]host[\\/]node\.js$/.test(source)) return NO_NODE;
    return null;
  },
};
const typescriptPlugin = () => typescript({ tsconfig: './tsconfig.json', noEmit: false, declaration: false, include: ['src/**/*.ts'] });

// The library bundle and the HTTP app (every runtime; Hono bundled in), the CLI (Node), the same two
// for Workers (dist/worker/: the `workerd` and `worker` export conditions), the library for browsers
// (dist/browser.js: the `browser` condition), and their .d.ts.
export default [
  {
    input: { index: 'src/index.ts', server: 'src/server/index.ts', cli: 'src/cli/main.ts' },
    output: { dir: 'dist', format: 'es', sourcemap: true, chunkFileNames: '[name].js' },
    external: (id) => id.startsWith('node:') || ['commander', 'cli-progress', '@hono/node-server', 'redis'].includes(id),
    plugins: [nodeResolve({ preferBuiltins: true }), typescriptPlugin()],
  },
  {
    input: { index: 'src/index.ts', server: 'src/server/index.ts' },
    output: { dir: 'dist/worker', format: 'es', sourcemap: true, chunkFileNames: '[name].js' },
    plugins: [workerHost, nodeResolve({ browser: true }), typescriptPlugin()],
  },
  // The Worker build's host without node: modules, so that a bundler (Vite, webpack, esbuild) finds none in
  // a page's module graph; beside the WASM files and the built-in model, which it finds by import.meta.url.
  {
    input: { browser: 'src/index.ts' },
    output: { dir: 'dist', format: 'es', sourcemap: true, chunkFileNames: 'browser-[name].js' },
    plugins: [workerHost, nodeResolve({ browser: true }), typescriptPlugin()],
  },
  // Both entries' types in one build, so that a type both name (Model, Session, ...) is declared once, in a
  // shared chunk, and a Model from `bimamba` is the Model that `bimamba/server` takes.
  {
    input: { index: 'src/index.ts', server: 'src/server/index.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: '[name].d.ts' },
    external: (id) => id.startsWith('node:'),
    plugins: [dts({ compilerOptions: { stripInternal: true } })],
  },
];
