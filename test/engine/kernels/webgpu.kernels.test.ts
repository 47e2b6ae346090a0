// Our fused WGSL kernels (src/engine/kernels/webgpu*.ts) against the composite tfjs ops they replace,
// both on the webgpu backend: forward values and gradients at awkward sizes (rows that are not a
// multiple of the workgroup, hidden sizes 64 / 896 / 2000, a vocabulary chunk), and no leaked tensors.
// Without a GPU, Mesa's lavapipe (scripts/setup-webgpu.sh) provides a CPU Vulkan adapter. Skipped only
// where no WebGPU adapter can be created at all; the reason is printed.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../../src/core/random';
import { MASKED, type KVCache } from '../../../src/engine/model';
import { applyRope, rmsNormComposite } from '../../../src/engine/ops';
import { parseModelConfig } from '../../../src/core/modelConfig';
import { randomModel } from '../../../src/engine/shapes';
import { RMS_NORM, rmsNormWebGpu } from '../../../src/engine/kernels/webgpu/rmsNorm';
import { useWebGpuKernel } from '../../../src/engine/kernels/webgpu/program';
import { CROSS_ENTROPY, crossEntropyRowsWebGpu } from '../../../src/engine/kernels/webgpu/crossEntropy';
import { crossEntropySum, labelPositions, type LabelPositions } from '../../../src/engine/loss';
import { MASKED_SOFTMAX, maskedSoftmaxWebGpu } from '../../../src/engine/kernels/webgpu/softmax';
import { ROPE, ropeWebGpu } from '../../../src/engine/kernels/webgpu/rope';
import { ATTENTION, attentionWebGpu } from '../../../src/engine/kernels/webgpu/attention';
import { useWebGpuBackend } from '../../helpers/webgpu';
import { assertClose } from '../../helpers/conformance';

const skipWithoutAdapter = useWebGpuBackend('webgpu kernel tests');

function randomTensor(shape: number[], seed: number, scale = 1, offset = 0): tf.Tensor {
  const rand = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => offset + scale * (2 * rand() - 1)), shape, 'float32');
}

/** Value and gradients of sum(f(xs)·g) for a fixed random upstream gradient g. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], g: tf.Tensor): { value: tf.Tensor; grads: tf.Tensor[] } {
  return tf.tidy(() => {
    const value = f(...xs);
    const grads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), g)))(xs);
    return { value, grads };
  });
}

async function compare(name: string, fused: { value: tf.Tensor; grads: tf.Tensor[] }, ref: { value: tf.Tensor; grads: tf.Tensor[] }, tol: { rtol: number; atol: number; gradRtol: number; gradAtol: number }): Promise<void> {
  assert.deepEqual(fused.value.shape, ref.value.shape, `${name}: forward shape`);
  assertClose(await fused.value.data(), await ref.value.data(), tol.rtol, tol.atol, `${name}: forward`);
  for (let i = 0; i < ref.grads.length; i++) {
    assert.deepEqual(fused.grads[i].shape, ref.grads[i].shape, `${name}: gradient ${i} shape`);
    assertClose(await fused.grads[i].data(), await ref.grads[i].data(), tol.gradRtol, tol.gradAtol, `${name}: gradient ${i}`);
  }
  tf.dispose([fused.value, ...fused.grads, ref.value, ...ref.grads]);
}

/** Runs `f` with the composite tfjs ops instead of our kernels (FTUNE_WEBGPU_FUSED=0). */
function composite<R>(f: () => R): R {
  return withFused('0', f);
}

/** Runs `f` with FTUNE_WEBGPU_FUSED set to `setting` (undefined: every fused kernel). */
function withFused<R>(setting: string | undefined, f: () => R): R {
  const saved = process.env.FTUNE_WEBGPU_FUSED;
  if (setting === undefined) delete process.env.FTUNE_WEBGPU_FUSED;
  else process.env.FTUNE_WEBGPU_FUSED = setting;
  try {
    return f();
  } finally {
    if (saved === undefined) delete process.env.FTUNE_WEBGPU_FUSED;
    else process.env.FTUNE_WEBGPU_FUSED = saved;
  }
}

async function compositeAsync<R>(f: () => Promise<R>): Promise<R> {
  const saved = process.env.FTUNE_WEBGPU_FUSED;
  process.env.FTUNE_WEBGPU_FUSED = '0';
  try {
    return await f();
  } finally {
    if (saved === undefined) delete process.env.FTUNE_WEBGPU_FUSED;
    else process.env.FTUNE_WEBGPU_FUSED = saved;
  }
}

function randomPositions(rows: number, n: number, V: number, seed: number): LabelPositions {
  const rand = mulberry32(seed);
  const picked = Array.from({ length: rows }, (_, i) => i).sort(() => rand() - 0.5).slice(0, n).sort((a, b) => a - b);
  return { rows: Int32Array.from(picked), targets: Int32Array.from(picked, () => Math.floor(rand() * V)) };
}

/** Causal additive mask [1, 1, T, past + T], plus left padding of `pad[b]` keys per batch when given: [B, 1, T, S]. */
function attentionMask(T: number, past: number, pad?: number[]): tf.Tensor4D {
  const S = past + T;
  const causal = new Float32Array(T * S);
  for (let q = 0; q < T; q++) causal.fill(MASKED, q * S + past + q + 1, (q + 1) * S);
  const mask = tf.tensor4d(causal, [1, 1, T, S]);
  if (!pad) return mask;
  const keys = Float32Array.from({ length: pad.length * S }, (_, j) => (j % S < pad[Math.floor(j / S)] ? MASKED : 0));
  return tf.tidy(() => tf.add(mask, tf.tensor4d(keys, [pad.length, 1, 1, S]))) as tf.Tensor4D;
}

/** The model's composite attention: softmax(scale·q·kᵀ + mask)·v for grouped heads, as [B, T, H, hd]. */
function attentionReference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor, scale: number): tf.Tensor {
  const [B, H, T, hd] = q.shape, [, K, S] = k.shape, R = H / K;
  const qg = tf.reshape(tf.mul(q, scale), [B, K, R * T, hd]);
  const scores = tf.reshape(tf.matMul(qg, k, false, true), [B, H, T, S]);
  const probs = tf.softmax(tf.add(scores, mask));
  const out = tf.matMul(tf.reshape(probs, [B, K, R * T, S]), v);
  return tf.transpose(tf.reshape(out, [B, H, T, hd]), [0, 2, 1, 3]);
}

/** Number of tensors alive after `f` ran inside a tidy, minus before: 0 when nothing leaked. */
function leakedTensors(f: () => void): number {
  const before = tf.memory().numTensors;
  tf.tidy(f);
  return tf.memory().numTensors - before;
}

describe('webgpu fused kernels', () => {
  test('the fused kernels are registered and chosen on webgpu', (t) => {
    if (skipWithoutAdapter(t)) return;
    for (const k of [RMS_NORM, CROSS_ENTROPY, MASKED_SOFTMAX, ROPE, ATTENTION]) assert.ok(useWebGpuKernel(k), k);
    assert.ok(!composite(() => useWebGpuKernel(RMS_NORM)), 'FTUNE_WEBGPU_FUSED=0 turns them off');
  });

  test('RMSNorm: forward, dx and dw match the composite at awkward sizes and ranks', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const shapes = [[5, 896], [7, 64], [3, 2000], [70, 96], [2, 3, 4, 64], [1, 1], [33, 256]];
    for (const [i, shape] of shapes.entries()) {
      const D = shape[shape.length - 1];
      const x = randomTensor(shape, 10 + i, 2);
      const w = randomTensor([D], 100 + i, 0.5, 1);
      const g = randomTensor(shape, 1000 + i);
      const eps = i % 2 ? 1e-6 : 1e-5;
      const fused = valueAndGrads((a, b) => rmsNormWebGpu(a, b, eps), [x, w], g);
      const ref = valueAndGrads((a, b) => rmsNormComposite(a, b, eps), [x, w], g);
      await compare(`rmsNorm [${shape.join(', ')}]`, fused, ref, { rtol: 1e-4, atol: 1e-5, gradRtol: 1e-4, gradAtol: 1e-4 });
      tf.dispose([x, w, g]);
    }
  });

  test('RMSNorm: a forward + backward inside tf.tidy leaves no tensor behind', (t) => {
    if (skipWithoutAdapter(t)) return;
    const x = randomTensor([40, 96], 1), w = randomTensor([96], 2, 0.5, 1), g = randomTensor([40, 96], 3);
    assert.equal(leakedTensors(() => {
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(rmsNormWebGpu(a, b, 1e-6), g)))([x, w]);
    }), 0);
    tf.dispose([x, w, g]);
  });

  test('cross-entropy: loss and gradients (hidden, trainable head) match the composite, chunked vocabularies included', async (t) => {
    if (skipWithoutAdapter(t)) return;
    // [rows, D, V, labelled rows]: a small vocabulary, and Qwen's 151936 over two chunks (110 rows each).
    const cases = [[50, 64, 2000, 37], [9, 24, 151936, 5], [130, 16, 151936, 120]];
    for (const [i, [rows, D, V, n]] of cases.entries()) {
      const hidden = randomTensor([rows, D], 20 + i, 1);
      const head = randomTensor([V, D], 200 + i, 0.5);
      const positions = randomPositions(rows, n, V, 2000 + i);
      const g = tf.scalar(0.7);
      for (const headTrainable of [false, true]) {
        const f = (h: tf.Tensor, w: tf.Tensor) => crossEntropySum(h as tf.Tensor2D, w as tf.Tensor2D, positions, headTrainable);
        const run = () => tf.tidy(() => {
          const value = f(hidden, head);
          const grads = headTrainable
            ? tf.grads((h: tf.Tensor, w: tf.Tensor) => tf.mul(f(h, w), g))([hidden, head])
            : [tf.grad((h: tf.Tensor) => tf.mul(f(h, head), g))(hidden)];
          return { value, grads };
        });
        const fused = run();
        const ref = composite(run);
        // The loss sums n rows' logsumexp: relative tolerance on the sum.
        await compare(`cross-entropy rows ${rows} V ${V} head ${headTrainable ? 'trainable' : 'frozen'}`, fused, ref, { rtol: 1e-5, atol: 1e-4, gradRtol: 1e-4, gradAtol: 1e-6 });
      }
      tf.dispose([hidden, head, g]);
    }
  });

  test('cross-entropy: a forward + backward inside tf.tidy leaves no tensor behind', (t) => {
    if (skipWithoutAdapter(t)) return;
    const hidden = randomTensor([20, 32], 1), head = randomTensor([300, 32], 2);
    const positions = randomPositions(20, 11, 300, 3);
    for (const headTrainable of [false, true]) {
      assert.equal(leakedTensors(() => {
        const f = (h: tf.Tensor, w: tf.Tensor) => crossEntropySum(h as tf.Tensor2D, w as tf.Tensor2D, positions, headTrainable);
        if (headTrainable) tf.grads(f)([hidden, head]);
        else tf.grad((h: tf.Tensor) => f(h, head))(hidden);
      }), 0);
    }
    tf.dispose([hidden, head]);
  });

  test('attention softmax with causal and key-padding masks: probabilities and gradients match softmax(scores + mask)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    // [B, H, T, past, key padding]: cached keys (S = past + T), batch-broadcast and per-batch masks,
    // rows of 130 and 2100 keys (workgroups of 64 and 256).
    const cases: [number, number, number, number, boolean][] = [[2, 3, 5, 2, false], [2, 3, 5, 2, true], [1, 2, 130, 0, false], [3, 1, 3, 2097, true]];
    for (const [i, [B, H, T, past, padded]] of cases.entries()) {
      const S = past + T;
      const mask = attentionMask(T, past, padded ? Array.from({ length: B }, (_, b) => b) : undefined); // batch b hides its first b keys
      const scores = randomTensor([B, H, T, S], 30 + i, 4);
      const g = randomTensor([B, H, T, S], 300 + i);
      const fused = valueAndGrads((s) => maskedSoftmaxWebGpu(s as tf.Tensor4D, mask), [scores], g);
      const ref = valueAndGrads((s) => tf.softmax(tf.add(s, mask)), [scores], g);
      await compare(`masked softmax [${B}, ${H}, ${T}, ${S}]${padded ? ' padded' : ''}`, fused, ref, { rtol: 1e-4, atol: 1e-6, gradRtol: 1e-4, gradAtol: 1e-6 });
      if (i === 1) {
        // the mask's own gradient (never needed by the model, but defined)
        const fm = valueAndGrads((s, m) => maskedSoftmaxWebGpu(s as tf.Tensor4D, m), [scores, mask], g);
        const rm = valueAndGrads((s, m) => tf.softmax(tf.add(s, m)), [scores, mask], g);
        await compare('masked softmax, gradient of the mask', fm, rm, { rtol: 1e-4, atol: 1e-6, gradRtol: 1e-4, gradAtol: 1e-6 });
      }
      tf.dispose([scores, g, mask]);
    }
  });

  test('RoPE with the transpose folded in: forward and gradient match transpose + rotate_half', async (t) => {
    if (skipWithoutAdapter(t)) return;
    for (const [i, [B, T, H, hd]] of [[2, 5, 3, 64], [1, 7, 14, 64], [1, 3, 2, 2], [2, 4, 1, 128]].entries()) {
      const x = randomTensor([B, T, H, hd], 40 + i, 3);
      const cos = randomTensor([T, hd], 400 + i) as tf.Tensor2D, sin = randomTensor([T, hd], 500 + i) as tf.Tensor2D;
      const g = randomTensor([B, H, T, hd], 600 + i);
      const half = hd / 2;
      const r = new Float32Array(hd * hd);
      for (let j = 0; j < half; j++) {
        r[(j + half) * hd + j] = -1;
        r[j * hd + j + half] = 1;
      }
      const rotation = tf.tensor2d(r, [hd, hd]);
      const fused = valueAndGrads((a) => ropeWebGpu(a as tf.Tensor4D, cos, sin), [x], g);
      const ref = valueAndGrads((a) => applyRope(tf.transpose(a as tf.Tensor4D, [0, 2, 1, 3]), cos, sin, rotation), [x], g);
      await compare(`rope [${B}, ${T}, ${H}, ${hd}]`, fused, ref, { rtol: 1e-5, atol: 1e-6, gradRtol: 1e-5, gradAtol: 1e-6 });
      tf.dispose([x, cos, sin, g, rotation]);
    }
  });

  test('attention softmax and RoPE: a forward + backward inside tf.tidy leaves no tensor behind', (t) => {
    if (skipWithoutAdapter(t)) return;
    const scores = randomTensor([2, 2, 4, 6], 1), mask = tf.zeros([2, 1, 4, 6]);
    const x = randomTensor([2, 4, 2, 8], 2), cos = randomTensor([4, 8], 3) as tf.Tensor2D, sin = randomTensor([4, 8], 4) as tf.Tensor2D;
    assert.equal(leakedTensors(() => {
      tf.grads((s: tf.Tensor, m: tf.Tensor) => tf.sum(tf.square(maskedSoftmaxWebGpu(s as tf.Tensor4D, m))))([scores, mask]);
      tf.grad((a: tf.Tensor) => tf.sum(tf.square(ropeWebGpu(a as tf.Tensor4D, cos, sin))))(x);
    }), 0);
    tf.dispose([scores, mask, x, cos, sin]);
  });

  // A qwen3-shaped model (q/k norm over head_dim, GQA) with every weight trainable, a left-padded
  // batch: the loss and the gradient of every weight (norms, embeddings, tied head included) with all
  // fused kernels against the composite ops, with and without gradient checkpointing.
  test('fused attention (grouped heads, causal + padding masks, cached keys): output and dq, dk, dv match the composite', async (t) => {
    if (skipWithoutAdapter(t)) return;
    // [B, H, K, T, past, hd, left padding]: GQA, a second block of 64 queries, key tiles that do not
    // divide S, head_dim 256 (tiles of 4), a decode step (T = 1), multi-query (K = 1), fully masked rows.
    const cases: [number, number, number, number, number, number, number[] | undefined][] = [
      [2, 4, 2, 5, 2, 16, [2, 0]], [1, 3, 3, 70, 0, 64, undefined], [1, 2, 1, 3, 0, 256, undefined],
      [2, 2, 2, 1, 8, 32, [0, 3]], [1, 6, 1, 33, 4, 8, undefined], [2, 2, 1, 150, 20, 16, undefined],
      // left padding without cached keys: the first query rows of batch 0 have every key masked
      [2, 6, 2, 9, 0, 32, [3, 0]],
    ];
    for (const [i, [B, H, K, T, past, hd, pad]] of cases.entries()) {
      const S = past + T;
      const mask = attentionMask(T, past, pad);
      const q = randomTensor([B, H, T, hd], 50 + i, 1.5), k = randomTensor([B, K, S, hd], 60 + i, 1.5), v = randomTensor([B, K, S, hd], 70 + i);
      const g = randomTensor([B, T, H, hd], 80 + i);
      const scale = 1 / Math.sqrt(hd);
      const ref = valueAndGrads((a, b, c) => attentionReference(a, b, c, mask, scale), [q, k, v], g);
      // Every case with the mask read for every key; purely causal masks also with future keys skipped.
      for (const causal of pad ? [false] : [false, true]) {
        const fused = valueAndGrads((a, b, c) => attentionWebGpu(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask, scale, causal), [q, k, v], g);
        const name = `attention B ${B} H ${H} K ${K} T ${T} S ${S} hd ${hd}${pad ? ' padded' : ''}${causal ? ' causal' : ''}`;
        await compare(name, fused, { value: ref.value.clone(), grads: ref.grads.map((x) => x.clone()) }, { rtol: 1e-4, atol: 1e-5, gradRtol: 1e-3, gradAtol: 1e-5 });
      }
      tf.dispose([ref.value, ...ref.grads]);
      tf.dispose([mask, q, k, v, g]);
    }
  });

  test('fused attention: a forward + backward inside tf.tidy leaves no tensor behind', (t) => {
    if (skipWithoutAdapter(t)) return;
    const mask = attentionMask(4, 0, [1, 0]);
    const q = randomTensor([2, 2, 4, 8], 1), k = randomTensor([2, 1, 4, 8], 2), v = randomTensor([2, 1, 4, 8], 3);
    assert.equal(leakedTensors(() => {
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(attentionWebGpu(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask, 0.3))))([q, k, v]);
    }), 0);
    tf.dispose([mask, q, k, v]);
  });

  // The third variant replaces the fused attention by the masked softmax (what head_dim not a multiple
  // of 4 or above 256 gets).
  // Without padding the attention mask is purely causal and the fused attention skips future keys.
  const variants: [boolean, string | undefined, boolean, string][] = [
    [false, undefined, true, 'left-padded batch'], [true, undefined, true, 'left-padded batch, gradient checkpointing'],
    [false, [RMS_NORM, CROSS_ENTROPY, MASKED_SOFTMAX, ROPE].join(','), true, 'left-padded batch, attention softmax kernel instead of fused attention'],
    [false, undefined, false, 'no padding (causal attention)'],
  ];
  for (const [checkpointing, kernels, padded, what] of variants) {
    test(`a qwen3-shaped model, ${what}: loss and all weight gradients match the composite`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      const config = parseModelConfig({
        model_type: 'qwen3', hidden_size: 96, intermediate_size: 160, num_hidden_layers: 2, num_attention_heads: 6,
        num_key_value_heads: 2, head_dim: 32, vocab_size: 300, tie_word_embeddings: true, rms_norm_eps: 1e-6,
      }, 'test');
      const model = randomModel(config, 7);
      let seed = 70;
      for (const [name, w] of [...model.weights]) {
        // norms away from 1, so that their weights matter
        const value = name.endsWith('norm.weight') ? tf.tidy(() => tf.add(w, randomTensor(w.shape, seed++, 0.3))) : w;
        model.weights.set(name, tf.variable(value, true, `m.${name}`));
        if (value !== w) value.dispose();
        w.dispose();
      }
      model.gradientCheckpointing = checkpointing;
      const B = 2, T = 9, pad = padded ? [3, 0] : [0, 0];
      const rand = mulberry32(5);
      const ids = Array.from({ length: B * T }, () => Math.floor(rand() * 300));
      const attention = Array.from({ length: B * T }, (_, j) => (j % T < pad[Math.floor(j / T)] ? 0 : 1));
      const labels = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, i) => (i < pad[b] ? -100 : ids[b * T + i])));
      const positions = labelPositions(labels, T);
      const inputIds = tf.tensor2d(ids, [B, T], 'int32'), attentionMask = tf.tensor2d(attention, [B, T], 'int32');
      const vars = [...model.weights.values()] as tf.Variable[];
      const run = () => {
        const { value, grads } = tf.variableGrads(() => {
          const { hidden } = model.forward(inputIds, { attentionMask: padded ? attentionMask : undefined, training: true });
          return crossEntropySum(hidden, model.head, positions, true);
        }, vars);
        return { value, grads: vars.map((v) => grads[v.name]) };
      };
      try {
        const fused = withFused(kernels, run);
        const ref = composite(run);
        await compare('model', fused, ref, { rtol: 1e-5, atol: 0, gradRtol: 2e-3, gradAtol: 2e-6 });
      } finally {
        tf.dispose([inputIds, attentionMask]);
        model.dispose();
      }
    });
  }

  test('a qwen3-shaped model decoding with a KV cache: logits of prefill and of each new token match the composite', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const config = parseModelConfig({
      model_type: 'qwen3', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4,
      num_key_value_heads: 2, head_dim: 16, vocab_size: 200, tie_word_embeddings: false, rms_norm_eps: 1e-6,
    }, 'test');
    const model = randomModel(config, 3);
    const rand = mulberry32(9);
    const prompt = Array.from({ length: 6 }, () => Math.floor(rand() * 200));
    const next = [11, 42, 7];
    const decode = async (): Promise<number[]> => {
      const out: number[] = [];
      let cache: KVCache = { layers: [], length: 0 };
      for (const ids of [prompt, ...next.map((id) => [id])]) {
        const previous = cache;
        const step = tf.tidy(() => {
          const r = model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { cache: previous });
          return { logits: model.logits(r.hidden), cache: r.cache! } as unknown as tf.TensorContainer;
        }) as unknown as { logits: tf.Tensor; cache: KVCache };
        for (const l of previous.layers) tf.dispose([l.k, l.v]);
        cache = step.cache;
        out.push(...(await step.logits.data()));
        step.logits.dispose();
      }
      for (const l of cache.layers) tf.dispose([l.k, l.v]);
      return out;
    };
    try {
      const fused = await decode();
      const ref = await compositeAsync(decode);
      assertClose(fused, ref, 1e-4, 1e-5, 'logits');
    } finally {
      model.dispose();
    }
  });

  test('more workgroups than one dispatch dimension holds (65535): the folded dispatch covers every row and element once', async (t) => {
    if (skipWithoutAdapter(t)) return;
    // 70001 rows → one workgroup per row; 4.3M elements → 67200 workgroups of 64 threads.
    const x = randomTensor([70001, 6], 1, 2), w = randomTensor([6], 2, 0.5, 1), g = randomTensor([70001, 6], 3);
    await compare('rmsNorm [70001, 6]',
      valueAndGrads((a, b) => rmsNormWebGpu(a, b, 1e-6), [x, w], g),
      valueAndGrads((a, b) => rmsNormComposite(a, b, 1e-6), [x, w], g),
      { rtol: 1e-4, atol: 1e-5, gradRtol: 1e-3, gradAtol: 1e-4 });
    const logits = randomTensor([70001, 3], 4, 3) as tf.Tensor2D;
    const targets = tf.tensor1d(Int32Array.from({ length: 70001 }, (_, i) => i % 3), 'int32');
    const want = tf.tidy(() => tf.sub(tf.logSumExp(logits, -1), tf.sum(tf.mul(logits, tf.oneHot(targets, 3)), -1)));
    const got = crossEntropyRowsWebGpu(logits, targets);
    assertClose(await got.data(), await want.data(), 1e-5, 1e-6, 'cross-entropy rows [70001, 3]');
    const xr = randomTensor([1, 4200, 16, 64], 5), cos = randomTensor([4200, 64], 6) as tf.Tensor2D, sin = randomTensor([4200, 64], 7) as tf.Tensor2D;
    const rotated = ropeWebGpu(xr as tf.Tensor4D, cos, sin);
    const ref = tf.tidy(() => {
      const xt = tf.transpose(xr, [0, 2, 1, 3]);
      const [x1, x2] = tf.split(xt, 2, 3);
      return tf.add(tf.mul(xt, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin));
    });
    assertClose(await rotated.data(), await ref.data(), 1e-5, 1e-6, 'rope [1, 4200, 16, 64]');
    tf.dispose([x, w, g, logits, targets, want, got, xr, cos, sin, rotated, ref]);
  });

});
