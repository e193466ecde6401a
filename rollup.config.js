import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import dts from 'rollup-plugin-dts';

// The library bundle and the HTTP app (every runtime; Hono bundled in), the CLI (Node), and their .d.ts.
export default [
  {
    input: { index: 'src/index.ts', server: 'src/server/index.ts', cli: 'src/cli/main.ts' },
    output: { dir: 'dist', format: 'es', sourcemap: true, chunkFileNames: '[name].js' },
    external: (id) => id.startsWith('node:') || ['commander', 'cli-progress', '@hono/node-server', 'redis'].includes(id),
    plugins: [nodeResolve({ preferBuiltins: true }), typescript({ tsconfig: './tsconfig.json', noEmit: false, declaration: false, include: ['src/**/*.ts'] })],
  },
  {
    input: 'src/index.ts',
    output: { file: 'dist/index.d.ts', format: 'es' },
    external: (id) => id.startsWith('node:'),
    plugins: [dts({ compilerOptions: { stripInternal: true } })],
  },
  {
    input: 'src/server/index.ts',
    output: { file: 'dist/server.d.ts', format: 'es' },
    external: (id) => id.startsWith('node:'),
    plugins: [dts()],
  },
];
