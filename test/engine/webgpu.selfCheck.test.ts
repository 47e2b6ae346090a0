// The GPU self-check (src/engine/gpuSelfCheck.ts): before a run, the playground or generation starts
// on webgpu, the GPU's logits for the model are compared with the CPU's; a mismatch stops with one
// clear line. The "broken GPU" is the real webgpu backend with its RMSNorm kernel made wrong on
// purpose (FTUNE_TEST_BREAK_WEBGPU=rms_norm, a test-only switch). No GPU is lent to this project's CI:
// Mesa's lavapipe stands in (skipped only where no WebGPU adapter exists, with the reason printed).
import { afterEach, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { activeBackend } from '../../src/engine/backend';
import { assertGpuComputesRight, GpuSelfCheckError, runGpuSelfCheck } from '../../src/engine/gpuSelfCheck';
import { DecoderModel } from '../../src/engine/model';
import { WebGpuLimitError } from '../../src/engine/webgpu';
import { modelDir } from '../helpers/conformance';
import { useWebGpuBackend } from '../helpers/webgpu';

const CLI = path.resolve(__dirname, '..', '..', '..', 'bin', 'ftune.js');
const MODEL = modelDir('tiny-qwen2');
const skipWithoutAdapter = useWebGpuBackend('GPU self-check tests');

/** stderr without Dawn's and tfjs's start-up chatter. */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('ftune:'));
}

describe('GPU self-check', () => {
  afterEach(() => {
    delete process.env.FTUNE_TEST_BREAK_WEBGPU;
  });

  test('a correct GPU passes: its logits match the CPU to float32 rounding', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const model = DecoderModel.load(MODEL);
    try {
      const r = await runGpuSelfCheck(model);
      assert.ok(r.ok, JSON.stringify(r));
      assert.ok(r.maxDiff < 1e-3 * r.scale, `max difference ${r.maxDiff} for logits up to ${r.scale}`);
      assert.deepEqual(r.layers, [0, 1]); // first and last layer of the 2-layer model
      await assertGpuComputesRight(model, activeBackend()!); // does not throw
    } finally {
      model.dispose();
    }
  });

  test('a model with packed frozen weights (nf4 projections) is checked whole: the packed matrices are in the slice, the CPU gets their values', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const model = DecoderModel.load(MODEL, { quantize: 'nf4' });
    try {
      assert.ok(model.packed.size > 0);
      const r = await runGpuSelfCheck(model);
      assert.ok(r.ok, JSON.stringify(r));
      assert.ok(r.maxDiff < 1e-3 * r.scale, `max difference ${r.maxDiff} for logits up to ${r.scale}`);
      assert.ok(model.packed.size > 0 && [...model.packed.values()].every((p) => !p.data.isDisposed), 'the model keeps its packed matrices');
    } finally {
      model.dispose();
    }
  });

  test('a GPU forward pass that throws leaves no tensor behind (the compared rows, the slice)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const model = DecoderModel.load(MODEL);
    process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = '1024'; // the embedded tokens [6, 64] (1.5 KiB) are over it
    try {
      // the first run also makes what is kept with the model's tensors at this limit (the embedding's row blocks)
      await assert.rejects(runGpuSelfCheck(model), WebGpuLimitError);
      const before = tf.memory().numTensors;
      await assert.rejects(runGpuSelfCheck(model), WebGpuLimitError);
      assert.equal(tf.memory().numTensors, before);
    } finally {
      delete process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
      model.dispose();
    }
  });

  test('a GPU with a broken kernel is stopped with an error naming the backend, the adapter, the difference and --backend wasm', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const model = DecoderModel.load(MODEL);
    process.env.FTUNE_TEST_BREAK_WEBGPU = 'rms_norm';
    try {
      const backend = activeBackend()!;
      await assert.rejects(assertGpuComputesRight(model, backend), (err: Error) => {
        assert.ok(err instanceof GpuSelfCheckError);
        assert.match(err.message, /^the webgpu backend computes this model wrong on WebGPU: .+: its logits differ from the CPU's by [\d.]+/);
        assert.ok(err.message.includes(backend.device), 'names the adapter');
        assert.match(err.message, /Use --backend wasm$/);
        assert.equal(err.message.split('\n').length, 1);
        return true;
      });
    } finally {
      model.dispose();
    }
  });

  test('ftune generate on a broken GPU exits 1 with one error line; doctor --model reports the mismatch and exits 1', (t) => {
    if (skipWithoutAdapter(t)) return;
    const env = { ...process.env, FTUNE_TEST_BREAK_WEBGPU: 'rms_norm' };
    const gen = spawnSync(process.execPath, [CLI, 'generate', '--model', MODEL, '--prompt', 'hello', '--greedy', '--max-new-tokens', '2', '--backend', 'webgpu'], { encoding: 'utf8', env, timeout: 120_000 });
    assert.equal(gen.status, 1);
    assert.equal(gen.stdout, '', 'nothing generated');
    const lines = errorLines(gen.stderr);
    assert.equal(lines.length, 1, gen.stderr);
    assert.match(lines[0], /^ftune: error: the webgpu backend computes this model wrong on WebGPU: .*Use --backend wasm$/);

    const doctor = spawnSync(process.execPath, [CLI, 'doctor', '--model', MODEL], { encoding: 'utf8', env, timeout: 120_000 });
    assert.equal(doctor.status, 1, doctor.stdout);
    assert.match(doctor.stdout, /maxStorageBufferBindingSize: \d+ MiB/);
    assert.match(doctor.stdout, /model check on webgpu \(.*\): WRONG/);

    const healthy = spawnSync(process.execPath, [CLI, 'doctor', '--model', MODEL], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(healthy.status, 0, healthy.stdout);
    assert.match(healthy.stdout, /model check on webgpu \(.*\): ok/);
  });
});
