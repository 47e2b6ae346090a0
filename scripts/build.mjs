// Bundles the extension and the CLI with esbuild (run after `tsc -p .`, see package.json "build"):
//   src/extension/main.ts → dist/extension.js   (VS Code extension host; `vscode` is external)
//   src/cli/main.ts       → dist/ftune.js       (the trainer the extension spawns; also `ftune`)
//   tfjs-backend-wasm's *.wasm → dist/          (found next to dist/ftune.js at run time)
//   webgpu (Dawn) native binary → dist/dawn/<platform>-<arch>/ (the packaged extension's WebGPU)
//   webview/build.mjs     → media/build/*.js    (the webview panels, built by their own script)
// Everything is bundled so the VSIX needs no node_modules.

import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stubs = path.join(repoRoot, 'scripts', 'bundle-stubs');

/** Native or optional packages that are never bundled: the code that uses them loads them lazily. */
export const EXTERNAL_NATIVE = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', 'webgpu', 'node-llama-cpp'];

/**
 * @huggingface/transformers requires onnxruntime-node and sharp when it loads, although tokenizers
 * need neither: point it at its CommonJS build (the ESM one relies on import.meta.url, which a CJS
 * bundle does not have), turn its createRequire("onnxruntime-node") into a plain require, and alias
 * both native packages to small stubs.
 */
const transformersPlugin = {
  name: 'transformers-tokenizers-only',
  setup(build) {
    const cjsEntry = path.join(repoRoot, 'node_modules', '@huggingface', 'transformers', 'dist', 'transformers.node.cjs');
    build.onResolve({ filter: /^@huggingface\/transformers$/ }, () => ({ path: cjsEntry }));
    build.onResolve({ filter: /^onnxruntime-node$/ }, () => ({ path: path.join(stubs, 'onnxruntime-node.cjs') }));
    build.onResolve({ filter: /^sharp$/ }, () => ({ path: path.join(stubs, 'sharp.cjs') }));
    build.onLoad({ filter: /transformers\.node\.cjs$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      const patched = source.replace(/requireFromHere\("onnxruntime-node"\)/g, 'require("onnxruntime-node")');
      if (patched === source) throw new Error('transformers.node.cjs changed: createRequire("onnxruntime-node") not found');
      return { contents: patched, loader: 'js' };
    });
  },
};

/**
 * tfjs-core registers its gradients only from its ES-module build; the engine requires
 * './tfjs-gradients.js', which build-gradients.mjs writes next to the compiled engine in out/. The
 * bundle inlines the same module instead. tfjs backends register themselves by side effect, but
 * their package.json "sideEffects" lists would let esbuild drop a bare `import '@tensorflow/...'`:
 * keep those imports.
 */
const tfjsPlugin = {
  name: 'tfjs',
  setup(build) {
    const gradients = path.join(repoRoot, 'node_modules', '@tensorflow', 'tfjs-core', 'dist', 'register_all_gradients.js');
    build.onResolve({ filter: /^\.\/tfjs-gradients\.js$/ }, () => ({ path: gradients, sideEffects: true }));
    build.onResolve({ filter: /^@tensorflow\/tfjs-backend-(cpu|wasm|webgpu)$/ }, async (args) => {
      if (args.pluginData?.tfjsSideEffects) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { tfjsSideEffects: true } });
      return resolved.errors.length ? undefined : { path: resolved.path, external: resolved.external, sideEffects: true };
    });
  },
};

/** esbuild options for a Node bundle (CLI or a test entry). */
export function nodeBundleOptions(entry, outfile) {
  return {
    absWorkingDir: repoRoot,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    keepNames: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    external: EXTERNAL_NATIVE,
    plugins: [transformersPlugin, tfjsPlugin],
  };
}

/** The tfjs wasm binaries, copied next to the CLI bundle. */
export function copyWasmBinaries(outDir) {
  const wasmDir = path.join(repoRoot, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  const files = fs.readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'));
  for (const file of files) fs.copyFileSync(path.join(wasmDir, file), path.join(outDir, file));
  // The threaded build's main script: its worker threads load it by path (src/engine/kernels/wasm/threads.ts).
  const threaded = 'tfjs-backend-wasm-threaded-simd.js';
  fs.copyFileSync(path.join(repoRoot, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'wasm-out', threaded), path.join(outDir, threaded));
  return [...files, threaded];
}

/** Dawn's folder name for a platform (the `webgpu` package builds one universal binary for macOS). */
export function dawnTarget(platform = process.platform, arch = process.arch) {
  return `${platform}-${platform === 'darwin' ? 'universal' : arch}`;
}

/**
 * Dawn's native binary (the `webgpu` package, optional) for one platform, copied to
 * dist/dawn/<platform>-<arch>/ with its license, so that the packaged extension has WebGPU without
 * node_modules (src/engine/webgpu.ts looks there). Returns the folder, or undefined without Dawn.
 */
export function copyDawn(outDir, target = dawnTarget()) {
  const packageDir = path.join(repoRoot, 'node_modules', 'webgpu');
  const source = path.join(packageDir, 'dist', target);
  const dest = path.join(outDir, 'dawn');
  fs.rmSync(dest, { recursive: true, force: true });
  if (!fs.existsSync(path.join(source, 'dawn.node'))) return undefined;
  fs.cpSync(source, path.join(dest, target), { recursive: true });
  fs.copyFileSync(path.join(packageDir, 'LICENSE.md'), path.join(dest, 'LICENSE.md'));
  return path.join(dest, target);
}

export async function build() {
  const dist = path.join(repoRoot, 'dist');
  fs.mkdirSync(dist, { recursive: true });

  await esbuild.build({
    ...nodeBundleOptions('src/extension/main.ts', 'dist/extension.js'),
    external: ['vscode', ...EXTERNAL_NATIVE],
  });

  // out/src/engine/tfjs-gradients.js for the unbundled build (bin/ftune.js → out/, and the tests)
  const gradients = path.join(repoRoot, 'scripts', 'build-gradients.mjs');
  if (fs.existsSync(gradients)) await (await import(pathToFileURL(gradients).href)).buildGradients();

  const cliEntry = path.join(repoRoot, 'src', 'cli', 'main.ts');
  if (fs.existsSync(cliEntry)) {
    await esbuild.build(nodeBundleOptions('src/cli/main.ts', 'dist/ftune.js'));
    // The tokenizer's worker thread (src/core/tokenizerSandbox.ts loads it next to the bundle).
    await esbuild.build(nodeBundleOptions('src/core/tokenizerWorker.ts', 'dist/tokenizerWorker.js'));
    copyWasmBinaries(dist);
    copyDawn(dist, process.env.FTUNE_DAWN_TARGET || dawnTarget());
  } else {
    console.warn('build: src/cli/main.ts does not exist yet; dist/ftune.js not built');
  }

  // ---- webview panels: their own script bundles browser code into media/build/ ----
  const webviews = path.join(repoRoot, 'webview', 'build.mjs');
  if (fs.existsSync(webviews)) {
    const { buildWebviews } = await import(pathToFileURL(webviews).href);
    await buildWebviews({ root: repoRoot });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await build();
}
