// What a training step holds beyond its activations: the gradients of a recomputed (checkpointed)
// segment, SwiGLU's backward pass and AdamW's temporaries — each freed as soon as it is used, with
// the same numbers as before. Peaks are counted on the wasm heap (helpers/wasmAllocations.ts).
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { parseModelConfig } from '../../src/core/modelConfig';
import { mulberry32 } from '../../src/core/random';
import { initBackend } from '../../src/engine/backend';
import { gatedProduct } from '../../src/engine/families';
import { AdamW } from '../../src/engine/optimizer';
import { recomputeGradients } from '../../src/engine/recompute';
import { trackWasmAllocations } from '../../src/engine/wasmAllocations';

before(async () => {
  await initBackend('wasm');
});

function random(shape: [number, number], seed: number): tf.Tensor2D {
  const rand = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor2d(Float32Array.from({ length: n }, () => 4 * rand() - 2), shape);
}

const llama = parseModelConfig({ model_type: 'llama', hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 10, rms_norm_eps: 1e-6, rope_theta: 10000 }, 'test');

test('SwiGLU: the value and both gradients are bit-identical to autodiff through gate·sigmoid(gate)·up', async () => {
  // awkward sizes: rows and columns that are not multiples of 4 or 8
  const gate = random([37, 53], 1), up = random([37, 53], 2), dy = random([37, 53], 3);
  const composite = (g: tf.Tensor2D, u: tf.Tensor2D) => tf.mul(tf.mul(g, tf.sigmoid(g)), u);
  const ours = tf.grads((g: tf.Tensor, u: tf.Tensor) => gatedProduct(llama, g as tf.Tensor2D, u as tf.Tensor2D));
  const theirs = tf.grads((g: tf.Tensor, u: tf.Tensor) => composite(g as tf.Tensor2D, u as tf.Tensor2D));
  const [a, b] = [ours([gate, up], dy), theirs([gate, up], dy)];
  assert.deepEqual(await gatedProduct(llama, gate, up).data(), await composite(gate, up).data());
  assert.deepEqual(await a[0].data(), await b[0].data(), 'd gate');
  assert.deepEqual(await a[1].data(), await b[1].data(), 'd up');
  tf.dispose([gate, up, dy, ...a, ...b]);
});

test('a recomputed segment: the same gradients as tfjs, with fewer bytes held at the peak', async () => {
  // Eight [rows, 1024] activations deep, with a tensor used twice (a residual) and a trainable matrix.
  const x = random([64, 1024], 4), w = tf.variable(tf.mul(random([1024, 1024], 5), 0.03)), dy = random([64, 1024], 6);
  const segment = () => {
    let h: tf.Tensor = x;
    for (let i = 0; i < 8; i++) h = tf.add(h, tf.tanh(tf.matMul(h, w)));
    return h;
  };
  const measure = (f: () => tf.Tensor[]) => {
    const track = trackWasmAllocations();
    try {
      const grads = f();
      return { grads, peak: track.peak() };
    } finally {
      track.stop();
    }
  };
  const plain = measure(() => {
    const { grads } = tf.engine().gradients(segment, [x, w], dy);
    return grads;
  });
  const frugal = measure(() => recomputeGradients(segment, [x, w], dy));
  for (let i = 0; i < 2; i++) assert.deepEqual(await frugal.grads[i].data(), await plain.grads[i].data(), `gradient ${i}`);
  // tfjs keeps every intermediate gradient (8 × 3 of [64, 1024]) until the end; freed as they are used, about a third as many bytes at the peak.
  assert.ok(frugal.peak < 0.5 * plain.peak, `peak ${frugal.peak} bytes recomputed, ${plain.peak} with tfjs's gradients`);
  tf.dispose([x, w, dy, ...plain.grads, ...frugal.grads]);
});

test('AdamW: an update holds the temporaries of one parameter at a time', () => {
  const params = Array.from({ length: 64 }, (_, i) => tf.variable(random([128, 128], 10 + i)));
  const grads = params.map((_, i) => random([128, 128], 100 + i));
  const optimizer = new AdamW(params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  const bytes = params.length * 128 * 128 * 4;
  const track = trackWasmAllocations();
  try {
    optimizer.apply(grads, 1e-3, { scale: 0.5, clip: 0.9 });
    // the new m, v and parameter replace the old ones (3 × bytes over the step); one tidy around all
    // parameters held ~10 temporaries of each at once as well (~13 × bytes).
    assert.ok(track.peak() < 4 * bytes, `peak ${track.peak()} bytes for ${bytes} bytes of parameters`);
  } finally {
    track.stop();
    optimizer.dispose();
    tf.dispose([...params, ...grads]);
  }
});
