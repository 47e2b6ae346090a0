// `--backend tensorflow` (tfjs-node / tfjs-node-gpu) says what really computes. The native packages
// cannot be installed here, so stand-ins with the same surface (a 'tensorflow' backend exposing
// isGPUPackage / isUsingGpuDevice / binding.TF_Version, as tfjs-node's NodeJSKernelBackend does,
// computing with the cpu kernels) are put on NODE_PATH for a child process.
import { after, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { mayHaveHardwareGpu } from '../../src/engine/webgpu';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BACKEND_JS = path.join(ROOT, 'out', 'src', 'engine', 'backend.js');
const temps: string[] = [];

/** A node_modules folder holding a fake `pkg` whose backend reports the given flags. */
function fakePackage(pkg: string, flags: { isGPUPackage: boolean; isUsingGpuDevice: boolean }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-tfnode-'));
  temps.push(dir);
  const pkgDir = path.join(dir, 'node_modules', ...pkg.split('/'));
  fs.mkdirSync(pkgDir, { recursive: true });
  fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: pkg, version: '4.22.0', main: 'index.js' }));
  fs.writeFileSync(
    path.join(pkgDir, 'index.js'),
    `const tf = require('@tensorflow/tfjs-core');
const { MathBackendCPU } = require('@tensorflow/tfjs-backend-cpu');
for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), ${JSON.stringify({ ...flags, binding: { TF_Version: '2.9.1' } })}), 3);
`,
  );
  return path.join(dir, 'node_modules');
}

/** Runs initBackend(requested) in a child process; returns the backend it started or its error. */
function initTensorflow(nodePath?: string, requested = 'tensorflow', needs: { packedWeights?: boolean } = {}): { name?: string; device?: string; gpu?: boolean; error?: string } {
  const script = `require(${JSON.stringify(BACKEND_JS)}).initBackend(${JSON.stringify(requested)}, ${JSON.stringify(needs)}).then(
    (b) => process.stdout.write(JSON.stringify({ name: b.name, device: b.device, gpu: b.gpu })),
    (e) => process.stdout.write(JSON.stringify({ error: e.message })))`;
  const paths = [nodePath, path.join(ROOT, 'node_modules')].filter(Boolean).join(path.delimiter);
  const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_PATH: paths }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out) as { name?: string; device?: string; gpu?: boolean; error?: string };
}

after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

describe('tensorflow backend detection', () => {
  test('the GPU package on a CUDA device says CUDA GPU', () => {
    const r = initTensorflow(fakePackage('@tensorflow/tfjs-node-gpu', { isGPUPackage: true, isUsingGpuDevice: true }));
    assert.equal(r.error, undefined);
    assert.equal(r.device, 'CUDA GPU (libtensorflow 2.9.1)');
  });

  test('the GPU package without a usable CUDA device says it computes on the CPU, and why', () => {
    const r = initTensorflow(fakePackage('@tensorflow/tfjs-node-gpu', { isGPUPackage: true, isUsingGpuDevice: false }));
    assert.match(r.device ?? '', /^CPU \(libtensorflow 2\.9\.1; tfjs-node-gpu found no usable CUDA GPU: .*CUDA 11\.2.*cuDNN 8\.1/);
  });

  test('the CPU package says CPU', () => {
    const r = initTensorflow(fakePackage('@tensorflow/tfjs-node', { isGPUPackage: false, isUsingGpuDevice: false }));
    assert.equal(r.device, 'CPU (libtensorflow 2.9.1, all cores)');
  });

  test('neither package installed: the error names both', { skip: hasRealTfjsNode() && 'a real tfjs-node is installed here' }, () => {
    const r = initTensorflow();
    assert.match(r.error ?? '', /neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/);
  });
});

describe('--backend auto with tfjs-node stand-ins', () => {
  test('a CUDA GPU through tfjs-node-gpu comes first', () => {
    const r = initTensorflow(fakePackage('@tensorflow/tfjs-node-gpu', { isGPUPackage: true, isUsingGpuDevice: true }), 'auto');
    assert.deepEqual(r, { name: 'tensorflow', device: 'CUDA GPU (libtensorflow 2.9.1)', gpu: true });
  });

  test('libtensorflow on the CPU beats wasm; only a real GPU through WebGPU beats it', () => {
    const r = initTensorflow(fakePackage('@tensorflow/tfjs-node', { isGPUPackage: false, isUsingGpuDevice: false }), 'auto');
    if (r.name === 'webgpu') {
      assert.ok(mayHaveHardwareGpu(), 'WebGPU is only tried where a GPU driver exists');
      assert.equal(r.gpu, true, `a software adapter is never chosen by auto: ${r.device}`);
    } else {
      assert.equal(r.name, 'tensorflow');
      assert.equal(r.gpu, false);
    }
  });

  test('a quantized base passes over libtensorflow, even on a CUDA GPU: it has no kernels for packed weights', () => {
    const r = initTensorflow(fakePackage('@tensorflow/tfjs-node-gpu', { isGPUPackage: true, isUsingGpuDevice: true }), 'auto', { packedWeights: true });
    if (r.name === 'webgpu') assert.ok(mayHaveHardwareGpu(), 'WebGPU is only tried where a GPU driver exists');
    else assert.equal(r.name, 'wasm');
  });

  test('nothing native installed and no GPU driver: wasm, on the CPU', { skip: (hasRealTfjsNode() && 'a real tfjs-node is installed here') || (mayHaveHardwareGpu() && 'this machine may have a GPU') }, () => {
    const r = initTensorflow(undefined, 'auto');
    assert.equal(r.name, 'wasm');
    assert.equal(r.gpu, false);
    assert.match(r.device ?? '', /^CPU \(wasm SIMD/);
  });
});

function hasRealTfjsNode(): boolean {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(pkg, { paths: [ROOT] });
      return true;
    } catch {
      // not installed
    }
  }
  return false;
}
