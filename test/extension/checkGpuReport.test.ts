// "Finetune Studio: Check GPU": the one-line verdict and the action it offers, from doctor reports of
// the machines users have (the command itself runs in the e2e suite against the packaged CLI).
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { DoctorEntry, DoctorReport } from '../../src/core/protocol';
import { summarizeDoctorReport } from '../../src/extension/checkGpuReport';

const memory = { total_bytes: 16 * 2 ** 30, free_bytes: 9.5 * 2 ** 30, cpus: 8 };
const wasm: DoctorEntry = { backend: 'wasm', ok: true, gpu: false, device: 'CPU (wasm SIMD, 4 threads)', detail: 'matmul check passed' };
const cpu: DoctorEntry = { backend: 'cpu', ok: true, gpu: false, device: 'CPU (JavaScript)', detail: 'matmul check passed' };
const noTf: DoctorEntry = { backend: 'tensorflow', ok: false, detail: 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed — to enable: npm install …' };
const gpuWebGpu: DoctorEntry = { backend: 'webgpu', ok: true, gpu: true, device: 'WebGPU: nvidia ampere NVIDIA GeForce RTX 3060', detail: 'matmul check passed' };
const softWebGpu: DoctorEntry = { backend: 'webgpu', ok: true, gpu: false, device: 'WebGPU: mesa software llvmpipe (a software GPU on the CPU: for testing, not speed)', detail: 'matmul check passed' };

const report = (backends: DoctorEntry[], auto: DoctorReport['auto'], advice?: string): DoctorReport => ({ backends, auto, memory, advice });

describe('summarizeDoctorReport', () => {
  test('a real GPU through WebGPU with the default setting: info, trains on it, nothing to suggest', () => {
    const s = summarizeDoctorReport(report([noTf, gpuWebGpu, wasm, cpu], 'webgpu'), 'auto');
    assert.equal(s.severity, 'info');
    assert.equal(s.trainsOn, 'webgpu');
    assert.equal(s.suggest, undefined);
    assert.equal(s.message, 'Finetune Studio trains on the GPU: WebGPU: nvidia ampere NVIDIA GeForce RTX 3060.');
    assert.ok(s.lines.some((l) => l.startsWith('✓ webgpu') && l.includes('[GPU]')));
    assert.ok(s.lines.includes('memory: 9.5 GiB free of 16.0 GiB, 8 CPU cores'));
  });

  test('a GPU works but the setting pins wasm: a warning that offers auto', () => {
    const s = summarizeDoctorReport(report([noTf, gpuWebGpu, wasm, cpu], 'webgpu'), 'wasm');
    assert.equal(s.severity, 'warning');
    assert.equal(s.trainsOn, 'wasm');
    assert.equal(s.suggest, 'auto');
    assert.match(s.message, /trains on the CPU \(wasm: CPU \(wasm SIMD, 4 threads\)\)\. A GPU backend works here: webgpu \(WebGPU: nvidia/);
  });

  test('only a software adapter (lavapipe): the CPU, a warning, the advice in the report, no suggestion', () => {
    const s = summarizeDoctorReport(report([noTf, softWebGpu, wasm, cpu], 'wasm', 'no GPU backend works here, training runs on the CPU. For any GPU: …'), 'auto');
    assert.equal(s.severity, 'warning');
    assert.equal(s.trainsOn, 'wasm');
    assert.equal(s.suggest, undefined);
    assert.match(s.message, /trains on the CPU \(wasm.*No GPU backend works here/);
    assert.ok(s.lines.includes('auto (the default) uses: wasm'));
    assert.ok(s.lines.at(-1)?.startsWith('no GPU backend works here'));
  });

  test('the configured backend does not work: says why and offers auto', () => {
    const brokenWebGpu: DoctorEntry = { backend: 'webgpu', ok: false, detail: 'no WebGPU adapter: no GPU driver with Vulkan, Metal or D3D12 — to enable: npm install webgpu' };
    const s = summarizeDoctorReport(report([noTf, brokenWebGpu, wasm, cpu], 'wasm'), 'webgpu');
    assert.equal(s.severity, 'warning');
    assert.equal(s.suggest, 'auto');
    assert.equal(s.message, 'Finetune Studio: the configured backend "webgpu" does not work here (no WebGPU adapter: no GPU driver with Vulkan, Metal or D3D12). auto would use wasm.');
  });

  test('nothing works: a warning without a backend', () => {
    const s = summarizeDoctorReport(report([noTf, { ...wasm, ok: false }, { ...cpu, ok: false }], undefined), 'auto');
    assert.equal(s.severity, 'warning');
    assert.equal(s.trainsOn, undefined);
    assert.ok(s.lines.includes('no backend works'));
  });
});
