// ESLint (flat config, typescript-eslint): TypeScript's recommended checks plus the import boundaries
// between the rooms (ARCHITECTURE.md). `npm run lint`; CI runs it before the tests.
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['fs', 'path', 'os', 'child_process', 'readline', 'crypto', 'worker_threads', 'util', 'url', 'http', 'https', 'net', 'stream', 'zlib', 'module', 'events', 'buffer'];

/** no-restricted-imports entries: import paths (patterns) a room must not use, with the reason. */
const forbid = (group, message) => ({ group, message });

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'media/build/**', 'node_modules/**', 'scripts/**', 'webview/preview/**', '**/*.mjs', '**/*.js', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring a field away, an unused parameter)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // the engine and the CLI load optional native packages (tfjs-node-gpu, webgpu) and wasm workers lazily with require()
    files: ['src/engine/**/*.ts', 'src/cli/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // core: pure data, formats and contracts; the engine, the CLI, export and VS Code build on it, never the reverse
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        forbid(['**/engine/**', '**/engine', '@tensorflow/*'], 'core must not import the engine (tfjs): the engine builds on core'),
        forbid(['**/extension/**', 'vscode'], 'core must not import the extension or vscode'),
        forbid(['**/cli/**', '**/export/**'], 'core must not import the CLI or export'),
      ] }],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        forbid(['**/extension/**', 'vscode'], 'the engine never imports the extension: the extension talks to the CLI across a process boundary'),
        forbid(['**/cli/**', '**/export/**'], 'the engine must not import the CLI or export (they build on the engine)'),
      ] }],
    },
  },
  {
    files: ['src/export/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [forbid(['**/extension/**', 'vscode'], 'export and the CLI run without VS Code')] }],
    },
  },
  {
    // the extension host runs the engine only through the CLI process (a crash or OOM must not take VS Code down)
    files: ['src/extension/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [forbid(['**/engine/**', '@tensorflow/*'], 'the extension runs the engine through the ftune CLI (cliClient.ts, runManager.ts), not in-process')] }],
    },
  },
  {
    // webviews run in a browser: only core's browser-safe modules, no Node built-ins
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: NODE_BUILTINS.map((name) => ({ name, message: 'webviews run in a browser: no Node modules' })),
        patterns: [
          forbid(['node:*'], 'webviews run in a browser: no Node modules'),
          forbid(['**/src/engine/**', '**/src/cli/**', '**/src/export/**', 'vscode', '@tensorflow/*'], 'webviews talk to the host with postMessage (core/protocol.ts) only'),
          {
            regex: '/src/core/(?!(protocol|methods|runConfig|dataFormats|smoothing|overfit|bestMetric|arenaProtocol)(\\.js)?$)',
            message: 'webviews may import only core\'s browser-safe modules (protocol, methods, runConfig, dataFormats, smoothing, overfit, bestMetric, arenaProtocol)',
          },
          { regex: '/src/extension/(?!panels/maskPreviewMessages(\\.js)?$)', message: 'webviews may import only the pure panel contracts of the extension' },
        ],
      }],
    },
  },
);
