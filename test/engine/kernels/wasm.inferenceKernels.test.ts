// The fused inference kernels of the wasm backend (src/engine/kernels/wasm/inferenceKernels.ts) at
// real shapes (Qwen2.5-0.5B, Gemma-3-270M, Phi-4-mini's partial rotary): each gives the composite's
// numbers bit for bit; they run only where no gradient is recorded; and a real-shape model decodes the
// same tokens and logits with them as without them (FTUNE_WASM_FUSED=0).
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../../src/core/random';
import { initBackend } from '../../../src/engine/backend';
import { generate } from '../../../src/engine/generate';
import { loraAddWasm, rmsNormWasm, ropeWasm, useWasmInferenceKernel, WASM_RMS_NORM } from '../../../src/engine/kernels/wasm/inferenceKernels';
import { LoraAdapter } from '../../../src/engine/lora';
import { DecoderModel } from '../../../src/engine/model';
import { applyRope, rmsNorm, rmsNormComposite } from '../../../src/engine/ops';
import { QWEN25_05B, writeRealShapeModel } from '../../helpers/realShapes';

function values(n: number, seed: number, scale = 1): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

/** Indices where a and b differ as float32 bit patterns (an empty list: identical). */
function differences(a: Float32Array, b: Float32Array): number[] {
  assert.equal(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.push(i);
  return out;
}

function read(t: tf.Tensor): Float32Array {
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

/** The composite's rotate_half matrix for head_dim hd with the first `rot` dims turning (model.ts builds the same). */
function rotation(hd: number, rot: number): tf.Tensor2D {
  const r = new Float32Array(hd * hd), half = rot / 2;
  for (let j = 0; j < half; j++) {
    r[(j + half) * hd + j] = -1;
    r[j * hd + j + half] = 1;
  }
  return tf.tensor2d(r, [hd, hd]);
}

before(async () => {
  await initBackend('wasm');
});

describe('wasm fused inference kernels equal the composites bit for bit', () => {
  for (const [rows, D, what] of [[1, 896, 'one decoding row, Qwen2.5-0.5B hidden'], [7, 896, 'prefill rows'], [3, 640, 'Gemma-3-270M hidden'], [2, 13, 'D not a multiple of 4']] as const) {
    test(`RMSNorm [${rows}, ${D}] (${what})`, () => {
      const x = tf.tensor2d(values(rows * D, 1, 3), [rows, D]), w = tf.tensor1d(values(D, 2));
      const fused = read(rmsNormWasm(x, w, 1e-6)), composite = read(rmsNormComposite(x, w, 1e-6));
      assert.deepEqual(differences(fused, composite), []);
      tf.dispose([x, w]);
    });
  }

  for (const [shape, rot, what] of [
    [[1, 1, 14, 64], 64, 'Qwen2.5-0.5B queries of one decoding step'],
    [[2, 5, 2, 64], 64, 'Qwen2.5-0.5B keys, a batch of prefill rows'],
    [[1, 3, 4, 256], 256, 'Gemma-3-270M, head_dim 256'],
    [[1, 2, 24, 128], 96, 'Phi-4-mini: 96 of 128 dims turn'],
  ] as const) {
    test(`rope ${JSON.stringify(shape)} (${what})`, () => {
      const [B, T, H, hd] = shape;
      const x = tf.tensor4d(values(B * T * H * hd, 3, 2), [B, T, H, hd]);
      // tables as model.ts makes them: cos 1 and sin 0 beyond the rotary dims
      const cosV = new Float32Array(T * hd).fill(1), sinV = new Float32Array(T * hd);
      const c = values(T * rot, 4), s = values(T * rot, 5);
      for (let t = 0; t < T; t++) for (let j = 0; j < rot; j++) {
        cosV[t * hd + j] = c[t * rot + j];
        sinV[t * hd + j] = s[t * rot + j];
      }
      const cos = tf.tensor2d(cosV, [T, hd]), sin = tf.tensor2d(sinV, [T, hd]), r = rotation(hd, rot);
      const fused = read(ropeWasm(x, cos, sin, rot));
      const composite = read(tf.tidy(() => applyRope(tf.transpose(x, [0, 2, 1, 3]), cos, sin, r)));
      assert.deepEqual(differences(fused, composite), []);
      tf.dispose([x, cos, sin, r]);
    });
  }

  for (const [K, N, r, what] of [[896, 4864, 8, 'Qwen2.5-0.5B gate_proj, r 8'], [4864, 896, 16, 'down_proj, r 16'], [13, 7, 3, 'sizes not multiples of 4']] as const) {
    test(`LoRA delta added to its projection, x [1, ${K}] → [1, ${N}] (${what})`, () => {
      const x = tf.tensor2d(values(K, 6), [1, K]), y = tf.tensor2d(values(N, 7), [1, N]);
      const A = tf.tensor2d(values(r * K, 8, 0.05), [r, K]), B = tf.tensor2d(values(N * r, 9, 0.05), [N, r]);
      const fused = read(loraAddWasm(y, x, A, B, 2));
      const composite = read(tf.tidy(() => tf.add(y, tf.mul(tf.matMul(tf.matMul(x, A, false, true), B, false, true), 2))));
      assert.deepEqual(differences(fused, composite), []);
      tf.dispose([x, y, A, B]);
    });
  }
});

test('the fused kernels refuse inputs that do not fit together instead of reading past them', () => {
  const x = tf.zeros([1, 2, 14, 64]) as tf.Tensor4D, one = tf.zeros([1, 64]) as tf.Tensor2D;
  assert.throws(() => ropeWasm(x, one, one, 64), /tables \[1,64\] \/ \[1,64\] for x \[1,2,14,64\], expected \[2, 64\]/);
  const rows = tf.zeros([3, 896]), w = tf.zeros([640]);
  assert.throws(() => rmsNormWasm(rows, w, 1e-6), /weight \[640\] for rows of 896/);
  const y = tf.zeros([1, 7]) as tf.Tensor2D, v = tf.zeros([1, 13]) as tf.Tensor2D, A = tf.zeros([3, 12]) as tf.Tensor2D, B = tf.zeros([7, 3]) as tf.Tensor2D;
  assert.throws(() => loraAddWasm(y, v, A, B, 2), /do not chain/);
  tf.dispose([x, one, rows, w, y, v, A, B]);
});

describe('wasm fused inference kernels stay out of gradients', () => {
  test('rmsNorm under tf.grad takes the composite (the fused kernel has no gradient) and gives its gradient', () => {
    const x = tf.tensor2d(values(2 * 896, 10), [2, 896]), w = tf.tensor1d(values(896, 11));
    assert.equal(useWasmInferenceKernel(WASM_RMS_NORM), true, 'outside a gradient the fused kernel is used');
    let inside: boolean | undefined;
    const grad = tf.grad((v: tf.Tensor) => {
      inside = useWasmInferenceKernel(WASM_RMS_NORM);
      return tf.sum(tf.mul(rmsNorm(v, w, 1e-6), w));
    });
    const g = read(grad(x));
    assert.equal(inside, false);
    const want = read(tf.grad((v: tf.Tensor) => tf.sum(tf.mul(rmsNormComposite(v, w, 1e-6), w)))(x));
    assert.deepEqual(differences(g, want), []);
    tf.dispose([x, w]);
  });
});

describe('a Qwen2.5-0.5B-shaped model decodes the same with and without the fused kernels', () => {
  let dir: string;
  before(() => {
    dir = writeRealShapeModel(QWEN25_05B);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const quantize of ['none', 'int8'] as const) {
    test(`16-bit base${quantize === 'none' ? '' : ' with int8 projections'}, LoRA on every linear layer with trained-looking B`, async () => {
      const before = tf.memory().numTensors;
      const model = DecoderModel.load(dir, { quantize });
      const adapter = LoraAdapter.create(model, { r: 8, alpha: 16, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, 0);
      adapter.allModules().forEach((m, i) => {
        const trained = tf.tensor2d(values(m.B.size, 100 + i, 0.05), m.B.shape as [number, number]);
        m.B.assign(trained);
        trained.dispose();
      });
      const run = async (fused: boolean) => {
        process.env.FTUNE_WASM_FUSED = fused ? '1' : '0';
        try {
          return await generate(model, { promptIds: [9707, 11, 1879, 0, 358, 1079], options: { max_new_tokens: 6, greedy: true, stop: false }, eosIds: [], adapter });
        } finally {
          delete process.env.FTUNE_WASM_FUSED;
        }
      };
      const fused = await run(true), composite = await run(false);
      assert.deepEqual(fused.tokenIds, composite.tokenIds);
      // the margin between the two best logits at each step: the logits themselves, bit for bit
      assert.deepEqual(fused.top2Gaps, composite.top2Gaps);
      adapter.dispose();
      model.dispose();
      assert.equal(tf.memory().numTensors, before, 'decoding (and the adapter, model and their caches, disposed) leave no tensor behind');
    });
  }
});
