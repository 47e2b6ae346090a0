// The packaged CLI (dist/ftune.js, built by scripts/build.mjs) must run without node_modules: it is
// copied to a folder outside the repository, where nothing can be resolved from the checkout, and
// asked to generate with the tiny model — which loads the tokenizer through the bundled
// @huggingface/transformers (with its onnxruntime/sharp stubs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cliInvocation } from '../../src/extension/cliInvocation';

const REPO = path.resolve(__dirname, '..', '..', '..');
const TINY = path.resolve(REPO, '..', 'shared', 'models', 'tiny-gsm8k-base');

function copyDist(): string {
  const dist = path.join(REPO, 'dist');
  assert.ok(fs.existsSync(path.join(dist, 'ftune.js')), 'dist/ftune.js is missing: run npm run build');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-bundle-'));
  fs.cpSync(dist, path.join(dir, 'dist'), { recursive: true });
  return path.join(dir, 'dist');
}

test('the bundled CLI generates with the tiny model outside the repository (tokenizer from the bundle)', () => {
  const dist = copyDist();
  for (const wasm of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
    assert.ok(fs.existsSync(path.join(dist, wasm)), `${wasm} next to ftune.js`);
  }
  const inv = cliInvocation(path.join(dist, 'ftune.js'), ['generate', '--model', TINY, '--prompt', 'Natalia sold clips to', '--max-new-tokens', '8', '--greedy', '--json', '--backend', 'cpu'], { execPath: process.execPath });
  const out = execFileSync(inv.command, inv.args, { cwd: path.dirname(dist), env: { ...inv.env, NODE_PATH: '' }, encoding: 'utf8', timeout: 120_000 });
  const line = out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `JSON result in: ${out}`);
  const result = JSON.parse(line) as { text: string; token_ids: number[] };
  assert.equal(result.token_ids.length, 8);
  assert.ok(result.text.length > 0, 'the tokenizer decoded the generated ids');
});

test('the bundled CLI finds Dawn in dist/dawn (no webgpu package outside the repository) and doctor reports it', () => {
  const dist = copyDist();
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  assert.ok(fs.existsSync(path.join(dist, 'dawn', `${process.platform}-${arch}`, 'dawn.node')), 'the build copies Dawn next to ftune.js');
  const inv = cliInvocation(path.join(dist, 'ftune.js'), ['doctor', '--json'], { execPath: process.execPath });
  const out = execFileSync(inv.command, inv.args, { cwd: path.dirname(dist), env: { ...inv.env, NODE_PATH: '' }, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] });
  const report = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { backends: { backend: string; ok: boolean; device?: string; gpu?: boolean; detail: string }[]; auto?: string };
  const webgpu = report.backends.find((b) => b.backend === 'webgpu');
  // This machine (and CI) has Mesa lavapipe (scripts/setup-webgpu.sh): a software adapter, which works
  // but which auto must not pick.
  assert.ok(webgpu?.ok, `webgpu through the bundled Dawn: ${webgpu?.detail}`);
  assert.match(webgpu.device ?? '', /^WebGPU: /);
  if (!webgpu.gpu) assert.equal(report.auto, 'wasm');
});

test('the bundled extension keeps vscode external and carries no node_modules requirement', () => {
  const bundle = fs.readFileSync(path.join(REPO, 'dist', 'extension.js'), 'utf8');
  assert.match(bundle, /require\("vscode"\)/);
  const requires = [...bundle.matchAll(/require\("([^"./][^"]*)"\)/g)].map((m) => m[1]);
  const builtins = new Set(require('module').builtinModules as string[]);
  const allowed = new Set(['vscode', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu']);
  const unbundled = requires.filter((r) => !allowed.has(r) && !builtins.has(r.replace(/^node:/, '')));
  assert.deepEqual([...new Set(unbundled)], [], 'every other package is bundled');
});
