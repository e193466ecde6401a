import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import dts from 'rollup-plugin-dts';

// The library bundle (every runtime), the CLI (Node), and one .d.ts for the library.
export default [
  {
    input: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
    output: { dir: 'dist', format: 'es', sourcemap: true, chunkFileNames: '[name].js' },
    external: (id) => id.startsWith('node:') || id === 'commander' || id === 'cli-progress',
    plugins: [nodeResolve({ preferBuiltins: true }), typescript({ tsconfig: './tsconfig.json', noEmit: false, declaration: false, include: ['src/**/*.ts'] })],
  },
  {
    input: 'src/index.ts',
    output: { file: 'dist/index.d.ts', format: 'es' },
    external: (id) => id.startsWith('node:'),
    plugins: [dts({ compilerOptions: { stripInternal: true } })],
  },
];
