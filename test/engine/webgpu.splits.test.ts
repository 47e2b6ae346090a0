// Activations, attention and KV caches over one GPU binding are split (src/engine/ops.ts), never
// refused when they fit in GPU memory and never silently wrong; dispatches past
// maxComputeWorkgroupsPerDimension are folded or refused (src/engine/webgpu.ts). Fast: the test-only
// FTUNE_TEST_WEBGPU_BINDING_BYTES lowers the limit for the splits and for the guard alike, so tiny
// tensors take the split paths and any unsplit tensor over the limit throws. Real sizes:
// webgpu.realShapes.test.ts. No GPU in CI: Mesa's lavapipe stands in.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../src/core/random';
import { initBackend } from '../../src/engine/backend';
import { collate, idsTensor, type Sequence } from '../../src/engine/batch';
import { evaluateLoss } from '../../src/engine/evaluate';
import { generate } from '../../src/engine/generate';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel, MASKED } from '../../src/engine/model';
import { causalLmObjective, type StepContext } from '../../src/engine/objectives';
import { appendToCache, attention, rmsNorm, rmsNormComposite, type AttentionMask } from '../../src/engine/ops';
import { globalNorm } from '../../src/engine/optimizer';
import { accumulate } from '../../src/engine/step';
import { checkDispatch, webGpuUnavailableReason, WebGpuLimitError } from '../../src/engine/webgpu';
import { assertClose, modelDir, readCase } from '../helpers/conformance';

const LIMIT_ENV = 'FTUNE_TEST_WEBGPU_BINDING_BYTES';

function seeded(shape: number[], seed: number): tf.Tensor {
  const rand = mulberry32(seed);
  return tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * rand() - 1), shape);
}

/** Runs fn with the binding limit lowered to `bytes` (undefined: the device's own). */
function withLimit<T>(bytes: number | undefined, fn: () => T): T {
  const before = process.env[LIMIT_ENV];
  if (bytes === undefined) delete process.env[LIMIT_ENV];
  else process.env[LIMIT_ENV] = String(bytes);
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env[LIMIT_ENV];
    else process.env[LIMIT_ENV] = before;
  }
}

describe('dispatch guard: maxComputeWorkgroupsPerDimension', () => {
  const program = (dispatch: number[], layout: { x: number[]; y?: number[] }) => ({ outputShape: [1], shaderKey: 'k', dispatch, dispatchLayout: layout });
  test('an x-only dispatch past the limit is folded by the backend: allowed; one with y or z, or y > 1, is refused clearly', () => {
    checkDispatch(program([65535, 1, 1], { x: [0] }), 65535);
    checkDispatch(program([262144, 1, 1], { x: [0] }), 65535); // folded to [512, 512, 1]
    assert.throws(() => checkDispatch(program([70000, 2, 1], { x: [0] }), 65535), WebGpuLimitError); // tfjs would drop y
    assert.throws(() => checkDispatch(program([8, 70000, 1], { x: [1], y: [0] }), 65535), (err: Error) => {
      assert.ok(err instanceof WebGpuLimitError);
      assert.match(err.message, /would dispatch \[8, 70000, 1\] workgroups, more than this GPU's maxComputeWorkgroupsPerDimension \(65535\)/);
      return true;
    });
  });
});

describe('webgpu: splits over one binding', () => {
  let unavailable: string | undefined;
  // what wasm computes for tiny-phi3 (fused qkv and gate_up, untied head, partial rotary)
  let wasm: ModelResults;
  before(async () => {
    await initBackend('wasm');
    wasm = await modelResults();
    unavailable = await webGpuUnavailableReason();
    if (unavailable) process.stdout.write(`webgpu split tests skipped: ${unavailable}\n`);
    else await initBackend('webgpu');
  });
  after(() => {
    delete process.env[LIMIT_ENV];
    delete process.env.FTUNE_WEBGPU_FUSED;
  });

  test('our row kernels past 65,535 workgroups (folded dispatch): rmsNorm of 70,000 rows equals the tfjs ops', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const x = seeded([70000, 8], 1), w = seeded([8], 2);
    const fused = rmsNorm(x, w, 1e-6), composite = rmsNormComposite(x, w, 1e-6);
    assertClose(await fused.data(), await composite.data(), 1e-5, 1e-6, 'rmsNorm');
    tf.dispose([x, w, fused, composite]);
  });

  // B 2, H 4 over K 2, T = S = 64, hd 8: q 16 KiB, scores 128 KiB, combined mask 32 KiB; limit 20 KiB.
  const [B, H, K, T, hd] = [2, 4, 2, 64, 8];
  const attentionCase = (padded: boolean) => {
    const q = seeded([B, H, T, hd], 3) as tf.Tensor4D, k = seeded([B, K, T, hd], 4) as tf.Tensor4D, v = seeded([B, K, T, hd], 5) as tf.Tensor4D;
    const causal = new Float32Array(T * T);
    for (let i = 0; i < T; i++) causal.fill(MASKED, i * T + i + 1, (i + 1) * T);
    const mask: AttentionMask = { bias: tf.tensor4d(causal, [1, 1, T, T]) };
    if (padded) mask.keys = tf.tensor4d(Float32Array.from({ length: B * T }, (_, j) => (j >= T && j < T + 5 ? MASKED : 0)), [B, 1, 1, T]);
    return { q, k, v, mask, dispose: () => tf.dispose([q, k, v, mask.bias, ...(mask.keys ? [mask.keys] : [])]) };
  };
  for (const [label, fused] of [['fused kernel', '1'], ['composite (scores and probabilities split)', 'FtuneRmsNorm']] as const) {
    for (const padded of [false, true]) {
      test(`attention, ${label}, ${padded ? 'key padding' : 'causal'}: chunks of batch and query rows equal the whole, values and gradients`, async (t) => {
        if (unavailable) return t.skip(unavailable);
        process.env.FTUNE_WEBGPU_FUSED = fused;
        const c = attentionCase(padded);
        const g = seeded([B * T, H * hd], 6);
        const run = () => tf.tidy(() => {
          const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(attention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, c.mask, { scale: 0.35, softcap: null, causal: !padded }), g));
          const { value, grads } = tf.valueAndGrads(f)([c.q, c.k, c.v]);
          const out = attention(c.q, c.k, c.v, c.mask, { scale: 0.35, softcap: null, causal: !padded });
          return [out, value, ...grads];
        });
        const whole = withLimit(undefined, run);
        const split = withLimit(20 * 1024, run);
        for (let i = 0; i < whole.length; i++) assertClose(await split[i].data(), await whole[i].data(), 1e-5, 1e-6, ['output', 'loss', 'dq', 'dk', 'dv'][i]);
        tf.dispose([...whole, ...split, g]);
        c.dispose();
        delete process.env.FTUNE_WEBGPU_FUSED;
      });
    }
  }

  test('a KV cache over one binding grows by copies and is read in batch chunks: decoding equals the unsplit step', async (t) => {
    if (unavailable) return t.skip(unavailable);
    const c = attentionCase(false);
    const kNew = seeded([B, K, 1, hd], 7) as tf.Tensor4D, vNew = seeded([B, K, 1, hd], 8) as tf.Tensor4D, q1 = seeded([B, H, 1, hd], 9) as tf.Tensor4D;
    const mask: AttentionMask = { bias: tf.zeros([1, 1, 1, T + 1]) as tf.Tensor4D };
    const step = () => {
      const k = appendToCache(c.k, kNew), v = appendToCache(c.v, vNew);
      return [k, v, attention(q1, k, v, mask, { scale: 0.35, softcap: null, causal: true })];
    };
    const whole = withLimit(undefined, step);
    // the grown cache is [2, 2, 65, 8] (8.1 KiB): over a 6 KiB limit, one sequence's half (4.1 KiB) under it
    const split = withLimit(6 * 1024, step);
    for (let i = 0; i < 3; i++) assertClose(await split[i].data(), await whole[i].data(), 1e-6, 1e-7, ['k', 'v', 'attention'][i]);
    tf.dispose([...whole, ...split, kNew, vNew, q1, mask.bias]);
    c.dispose();
  });

  test('what cannot be split still gets the clear WebGpuLimitError: one sequence whose KV cache is over a binding', (t) => {
    if (unavailable) return t.skip(unavailable);
    const k = seeded([1, K, 512, hd], 10) as tf.Tensor4D; // 32 KiB
    const q1 = seeded([1, H, 1, hd], 11) as tf.Tensor4D;
    const mask: AttentionMask = { bias: tf.zeros([1, 1, 1, 512]) as tf.Tensor4D };
    assert.throws(() => withLimit(16 * 1024, () => attention(q1, k, k, mask, { scale: 0.35, softcap: null, causal: true })), (err: Error) => {
      assert.ok(err instanceof WebGpuLimitError, String(err));
      assert.match(err.message, /would bind a \[1, 2, 512, 8\] tensor \(32\.0 KiB\), more than this GPU's maxStorageBufferBindingSize/);
      return true;
    });
    tf.dispose([k, q1, mask.bias]);
  });

  test('attention queries over one binding are refused by name, before they are computed (rope binds them whole: rows in chunks would not help)', (t) => {
    if (unavailable) return t.skip(unavailable);
    // tiny-gemma3: hidden 64, 4 heads of 32, so q [24, 128] (12 KiB) is over an 8 KiB limit where the residual [24, 64] (6 KiB) is not
    const model = DecoderModel.load(modelDir('tiny-gemma3'));
    const ids = tf.tensor2d(Int32Array.from({ length: 24 }, (_, i) => (7 * i + 3) % 512), [1, 24], 'int32');
    try {
      const failedForward = () => withLimit(8 * 1024, () => tf.tidy(() => model.forward(ids).hidden));
      assert.throws(failedForward, WebGpuLimitError); // fills the caches kept for this shape and limit (rope tables, row blocks of the embedding)
      const before = tf.memory().numTensors;
      assert.throws(failedForward, (err: Error) => {
        assert.ok(err instanceof WebGpuLimitError, String(err));
        assert.match(err.message, /^webgpu: the attention queries of a layer would be a \[24, 128\] tensor \(12\.0 KiB\), more than this GPU's maxStorageBufferBindingSize \(8\.0 KiB\), which rope and attention bind whole; use a smaller --batch-size/);
        return true;
      });
      assert.equal(tf.memory().numTensors, before, 'the failed forward pass leaves no tensor behind');
    } finally {
      ids.dispose();
      model.dispose();
    }
  });

  // 12 KiB: the residual [40, 64] (10 KiB) fits; qkv [40, 128] (20 KiB), gate_up [40, 288] (45 KiB),
  // the vocabulary matrices [512, 64] (128 KiB) and the logits [40, 512] (80 KiB) do not.
  for (const fused of ['1', 'FtuneRmsNorm,FtuneCrossEntropy,FtuneRope']) {
    test(`tiny-phi3 under a 12 KiB binding limit (${fused === '1' ? 'fused attention' : 'composite attention, split'}): logits, eval loss, greedy with the KV cache, a LoRA step equal wasm`, async (t) => {
      if (unavailable) return t.skip(unavailable);
      process.env.FTUNE_WEBGPU_FUSED = fused;
      const gpu = await withLimitAsync(12 * 1024, modelResults);
      delete process.env.FTUNE_WEBGPU_FUSED;
      assertClose(gpu.logits, wasm.logits, 1e-4, 1e-4, 'logits');
      assertClose([gpu.evalLoss], [wasm.evalLoss], 1e-4, 0, 'eval loss');
      assert.deepEqual(gpu.greedy, wasm.greedy);
      assertClose([gpu.loraLoss, gpu.gradNorm], [wasm.loraLoss, wasm.gradNorm], 1e-3, 0, 'LoRA loss and gradient norm');
    });
  }
});

interface ModelResults { logits: Float32Array; evalLoss: number; greedy: number[]; loraLoss: number; gradNorm: number }

async function withLimitAsync<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
  process.env[LIMIT_ENV] = String(bytes);
  try {
    return await fn();
  } finally {
    delete process.env[LIMIT_ENV];
  }
}

/** What the active backend computes for tiny-phi3 on its conformance batch (right-padded). */
async function modelResults(): Promise<ModelResults> {
  const model = DecoderModel.load(modelDir('tiny-phi3'));
  const c = readCase<{ input_ids: number[][]; attention_mask: number[][] }>('tiny-phi3', 'logits.json');
  const seqs: Sequence[] = c.input_ids.map((ids, b) => {
    const kept = ids.filter((_, i) => c.attention_mask[b][i]);
    return { input_ids: kept, labels: kept.map((id, i) => (i < 2 ? -100 : id)) };
  });
  try {
    const batch = collate(seqs, 0);
    const logitsT = tf.tidy(() => model.logits(model.forward(idsTensor(batch)).hidden));
    const logits = (await logitsT.data()) as Float32Array;
    logitsT.dispose();
    const evalLoss = (await evaluateLoss(model, undefined, seqs, { batchSize: 2, padId: 0 })).loss;
    const greedy = (await generate(model, { promptIds: seqs[0].input_ids, options: { max_new_tokens: 4, greedy: true, stop: false }, eosIds: [] })).tokenIds;
    const adapter = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets: ['qkv_proj', 'gate_up_proj'] }, 3);
    const rand = mulberry32(11);
    for (const v of adapter.variables()) v.assign(tf.tensor(Float32Array.from({ length: v.size }, () => (2 * rand() - 1) * 0.05), v.shape));
    try {
      const ctx = (): StepContext => ({ model, adapter, padId: 0, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
      const acc = await accumulate(causalLmObjective, [seqs], adapter.variables(), ctx);
      const norm = globalNorm(acc.grads);
      const gradNorm = (await norm.data())[0];
      tf.dispose([norm, ...acc.grads]);
      return { logits, evalLoss, greedy, loraLoss: acc.lossSum / acc.weight, gradNorm };
    } finally {
      adapter.dispose();
    }
  } finally {
    model.dispose();
  }
}
