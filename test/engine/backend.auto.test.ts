// How `--backend auto` ranks what works, and how a WebGPU adapter is told to be a real GPU or a
// CPU emulation of one (pure functions; the machine-level choice is tested in
// backend.tensorflow.test.ts with stand-ins and in cli.doctor.test.ts here).
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { autoChoice } from '../../src/engine/backend';
import { bundledDawnPath, describeAdapter, mayHaveHardwareGpu } from '../../src/engine/webgpu';

type Entry = Parameters<typeof autoChoice>[0][number];
const e = (backend: Entry['backend'], ok: boolean, gpu = false): Entry => ({ backend, ok, gpu });

describe('autoChoice', () => {
  test('a CUDA GPU first, then any real GPU through WebGPU', () => {
    assert.equal(autoChoice([e('tensorflow', true, true), e('webgpu', true, true), e('wasm', true)])?.backend, 'tensorflow');
    assert.equal(autoChoice([e('tensorflow', true, false), e('webgpu', true, true), e('wasm', true)])?.backend, 'webgpu');
  });

  test('without a GPU: libtensorflow on the CPU, then wasm, then cpu; a software WebGPU adapter never', () => {
    assert.equal(autoChoice([e('tensorflow', true, false), e('webgpu', true, false), e('wasm', true), e('cpu', true)])?.backend, 'tensorflow');
    assert.equal(autoChoice([e('tensorflow', false), e('webgpu', true, false), e('wasm', true), e('cpu', true)])?.backend, 'wasm');
    assert.equal(autoChoice([e('tensorflow', false), e('webgpu', true, false), e('wasm', false), e('cpu', true)])?.backend, 'cpu');
    assert.equal(autoChoice([e('webgpu', true, false)]), undefined);
  });

  test('a backend that failed is never chosen, even a GPU one', () => {
    assert.equal(autoChoice([e('tensorflow', false, true), e('webgpu', false, true), e('wasm', true)])?.backend, 'wasm');
  });
});

describe('describeAdapter', () => {
  test('Mesa lavapipe (what Dawn reports here) is software', () => {
    const a = describeAdapter({ info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7', isFallbackAdapter: true } });
    assert.equal(a.software, true);
    assert.match(a.description, /^WebGPU: mesa software llvmpipe.*a software GPU on the CPU/);
  });

  test('SwiftShader and an adapter flagged as fallback are software, even with an unknown name', () => {
    assert.equal(describeAdapter({ info: { vendor: 'google', device: 'SwiftShader Device (Subzero)' } }).software, true);
    assert.equal(describeAdapter({ info: { vendor: 'acme', device: 'X' }, isFallbackAdapter: true }).software, true);
  });

  test('NVIDIA, AMD, Intel and Apple adapters are real GPUs', () => {
    for (const info of [
      { vendor: 'nvidia', architecture: 'ampere', device: '', description: 'NVIDIA GeForce RTX 3060' },
      { vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XT (RADV NAVI31)' },
      { vendor: 'intel', architecture: 'gen-12lp', description: 'Intel(R) Iris(R) Xe Graphics' },
      { vendor: 'apple', architecture: 'metal-3', description: 'Apple M3' },
    ]) {
      const a = describeAdapter({ info: { ...info, isFallbackAdapter: false } });
      assert.equal(a.software, false, info.description);
      assert.ok(a.description.includes(info.description), a.description);
      assert.doesNotMatch(a.description, /software/);
    }
  });
});

describe('bundledDawnPath', () => {
  test('finds dawn/<platform>-<arch>/dawn.node next to the CLI bundle or one folder up, else nothing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-dawn-'));
    try {
      const bundle = path.join(dir, 'dist');
      fs.mkdirSync(bundle);
      assert.equal(bundledDawnPath(bundle), undefined);
      const arch = process.platform === 'darwin' ? 'universal' : process.arch;
      const binary = path.join(bundle, 'dawn', `${process.platform}-${arch}`, 'dawn.node');
      fs.mkdirSync(path.dirname(binary), { recursive: true });
      fs.writeFileSync(binary, '');
      assert.equal(bundledDawnPath(bundle), binary);
      assert.equal(bundledDawnPath(path.join(bundle, 'engine')), binary);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mayHaveHardwareGpu', () => {
  const none = () => false;
  test('Linux: only with a GPU device node (Mesa/AMD/Intel render node, NVIDIA, WSL2)', () => {
    assert.equal(mayHaveHardwareGpu('linux', none, () => []), false);
    assert.equal(mayHaveHardwareGpu('linux', none, () => ['card0', 'renderD128']), true);
    assert.equal(mayHaveHardwareGpu('linux', none, () => ['card0']), false);
    assert.equal(mayHaveHardwareGpu('linux', (f) => f === '/dev/nvidiactl', () => []), true);
    assert.equal(mayHaveHardwareGpu('linux', (f) => f === '/dev/dxg', () => []), true);
  });

  test('macOS and Windows always may (Metal, D3D12)', () => {
    assert.equal(mayHaveHardwareGpu('darwin', none, () => []), true);
    assert.equal(mayHaveHardwareGpu('win32', none, () => []), true);
  });
});
