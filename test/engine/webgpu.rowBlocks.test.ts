// Matrices over one GPU binding, used as blocks of rows (src/engine/rowBlocks.ts), and the guard that
// refuses any kernel binding more than the device allows. Fast: the test-only switch
// FTUNE_TEST_WEBGPU_BINDING_BYTES lowers the limit the engine splits at, so tiny-qwen2's [512, 64]
// embedding/head (128 KiB) is split into 4 blocks and checked against the PyTorch reference numbers.
// The real sizes are in webgpu.realShapes.test.ts. No GPU in CI: Mesa's lavapipe stands in.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { collate } from '../../src/engine/batch';
import { evaluateLoss } from '../../src/engine/evaluate';
import { DecoderModel } from '../../src/engine/model';
import { gatherRows, matMulRows, matMulRowsT, rowBlocks } from '../../src/engine/rowBlocks';
import { webGpuLimits, WebGpuLimitError } from '../../src/engine/webgpu';
import { assertClose, assertLogitsCase, modelDir, readCase } from '../helpers/conformance';
import { useWebGpuBackend } from '../helpers/webgpu';

const LIMIT = 40_000; // bytes: 156 rows of 64 floats per block
const skipWithoutAdapter = useWebGpuBackend('row block tests');

describe('webgpu: matrices over one binding, split into row blocks', () => {
  before(() => {
    process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES = String(LIMIT);
  });
  after(() => {
    delete process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES;
  });

  test('blocks cover every row once; gather and both products equal the unsplit ops', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const [R, C] = [500, 64];
    const values = Float32Array.from({ length: R * C }, (_, i) => Math.sin(i * 0.37));
    const w = tf.tensor2d(values, [R, C]);
    const blocks = rowBlocks(w);
    assert.deepEqual(blocks.map((b) => [b.start, b.rows]), [[0, 156], [156, 156], [312, 156], [468, 32]]);
    const ids = tf.tensor1d([0, 155, 156, 311, 312, 467, 468, 499, 7], 'int32');
    const x = tf.tensor2d(Float32Array.from({ length: 3 * C }, (_, i) => Math.cos(i)), [3, C]);
    const d = tf.tensor2d(Float32Array.from({ length: 3 * R }, (_, i) => Math.cos(i * 0.11)), [3, R]);
    const gathered = await gatherRows(w, ids).data();
    const expected = Array.from(await ids.data()).flatMap((id) => Array.from(values.subarray(id * C, (id + 1) * C)));
    assert.deepEqual(Array.from(gathered), expected, 'gather is exact');
    // the unsplit products on the CPU backend as reference
    const product = await matMulRowsT(x, w).data();
    const back = await matMulRows(d, w).data();
    await tf.setBackend('cpu');
    const [xc, wc, dc] = [tf.tensor2d(await x.data(), [3, C]), tf.tensor2d(values, [R, C]), tf.tensor2d(await d.data(), [3, R])];
    const productRef = await tf.matMul(xc, wc, false, true).data();
    const backRef = await tf.matMul(dc, wc).data();
    tf.dispose([xc, wc, dc]);
    await tf.setBackend('webgpu');
    assertClose(product, productRef, 1e-5, 1e-5, 'x·wᵀ');
    assertClose(back, backRef, 1e-5, 1e-5, 'd·w');
    tf.dispose([w, ids, x, d]);
  });

  test('tiny-qwen2 with its head in 4 blocks: logits and eval loss equal the PyTorch reference', async (t) => {
    if (skipWithoutAdapter(t)) return;
    await assertLogitsCase('tiny-qwen2');
    const c = readCase<{ token_ids: number[][]; labels: number[][]; loss: number; rtol: number }>('tiny-qwen2', 'eval_loss.json');
    const model = DecoderModel.load(modelDir('tiny-qwen2'));
    try {
      assert.equal(rowBlocks(model.head as tf.Tensor2D).length, 4);
      const data = c.token_ids.map((ids, i) => ({ input_ids: ids, labels: c.labels[i] }));
      assert.ok(collate(data, 509).B === 4);
      const r = await evaluateLoss(model, undefined, data, { batchSize: 2, padId: 509 });
      assertClose([r.loss], [c.loss], c.rtol, 0, 'eval loss');
    } finally {
      model.dispose();
    }
  });

  test('a trainable matrix over the limit is refused with a clear error (full fine-tuning), not split', (t) => {
    if (skipWithoutAdapter(t)) return;
    const v = tf.variable(tf.zeros([512, 64]) as tf.Tensor2D, true, 'model.embed_tokens.weight');
    assert.throws(() => rowBlocks(v), /the trainable model\.embed_tokens\.weight \[512, 64\] .* full fine-tuning of it is not supported on webgpu; use LoRA or --backend wasm/);
    v.dispose();
  });

  test('any kernel that would bind more than maxStorageBufferBindingSize throws instead of computing zeros', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const limit = webGpuLimits()!.maxStorageBufferBindingSize;
    const elements = limit / 4 + 1024;
    // at lavapipe's 128 MiB limit this holds 128 MiB of RAM for a moment
    assert.throws(() => tf.tidy(() => tf.add(tf.ones([elements]), 1)), (err: Error) => {
      assert.ok(err instanceof WebGpuLimitError, String(err));
      assert.match(err.message, /webgpu: kernel \S+ would bind a \[\d+\] tensor \([\d.]+ MiB\), more than this GPU's maxStorageBufferBindingSize/);
      return true;
    });
  });
});
