// Gradient checkpointing (ForwardOptions.gradientCheckpointing / DecoderModel.gradientCheckpointing):
// the same gradients as the plain backward pass, with fewer activations alive at once.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/backend';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import { causalLmObjective, type StepContext } from '../../src/engine/objectives';
import { accumulate } from '../../src/engine/step';
import type { Sequence } from '../../src/engine/batch';
import { assertClose, modelDir, readCase } from '../helpers/conformance';

const PAD = 509;

interface EvalCase { token_ids: number[][]; labels: number[][] }

function sftBatch(model: string): Sequence[] {
  const data = readCase<EvalCase>(model, 'eval_loss.json');
  return data.token_ids.map((ids, i) => ({ input_ids: ids, labels: data.labels[i] }));
}

/** Summed gradients of `vars` for one micro-batch, read back, with the model's checkpointing set to `on`. */
async function gradients(model: DecoderModel, on: boolean, batch: Sequence[], vars: tf.Variable[], ctx: () => StepContext): Promise<Float32Array[]> {
  model.gradientCheckpointing = on;
  try {
    const acc = await accumulate(causalLmObjective, [batch], vars, ctx);
    const out = await Promise.all(acc.grads.map(async (g) => (await g.data()) as Float32Array));
    tf.dispose(acc.grads);
    return out;
  } finally {
    model.gradientCheckpointing = false;
  }
}

function assertSameGradients(plain: Float32Array[], checkpointed: Float32Array[], what: string): void {
  assert.equal(checkpointed.length, plain.length);
  let nonZero = 0;
  for (let i = 0; i < plain.length; i++) {
    assertClose(checkpointed[i], plain[i], 1e-5, 1e-9, `${what}: gradient ${i}`);
    nonZero += plain[i].some((v) => v !== 0) ? 1 : 0;
  }
  assert.ok(nonZero > plain.length / 2, `${what}: most gradients should be non-zero (${nonZero} of ${plain.length})`);
}

before(async () => {
  await initBackend('wasm');
});

describe('gradient checkpointing', () => {
  for (const name of ['tiny-qwen2', 'tiny-llama']) {
    test(`${name}: LoRA gradients match the plain backward pass`, async () => {
      const model = DecoderModel.load(modelDir(name));
      const adapter = LoraAdapter.load(path.join(modelDir(name), 'cases', 'adapter_init'), model);
      const vars = adapter.variables();
      const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
      try {
        const batch = sftBatch(name);
        assertSameGradients(await gradients(model, false, batch, vars, ctx), await gradients(model, true, batch, vars, ctx), name);
      } finally {
        adapter.dispose();
        model.dispose();
      }
    });
  }

  test('LoRA dropout draws the same masks when a layer is recomputed', async () => {
    const model = DecoderModel.load(modelDir('tiny-qwen2'));
    const adapter = LoraAdapter.load(path.join(modelDir('tiny-qwen2'), 'cases', 'adapter_init'), model, { dropout: 0.3 });
    const vars = adapter.variables();
    const batch = sftBatch('tiny-qwen2').slice(0, 2);
    const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 11, neftuneAlpha: 0, headTrainable: false });
    try {
      const plain = await gradients(model, false, batch, vars, ctx);
      assertSameGradients(plain, await gradients(model, true, batch, vars, ctx), 'seeded dropout');
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });

  test('full fine-tuning: gradients of every weight match, embeddings and head included', async () => {
    const model = DecoderModel.load(modelDir('tiny-llama'), { float32: true });
    const vars: tf.Variable[] = [];
    for (const [name, t] of model.weights) {
      const v = tf.variable(t, true, `full.${name}`);
      t.dispose();
      model.weights.set(name, v);
      vars.push(v);
    }
    const ctx = (): StepContext => ({ model, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: true });
    try {
      const batch = sftBatch('tiny-llama').slice(0, 2);
      assertSameGradients(await gradients(model, false, batch, vars, ctx), await gradients(model, true, batch, vars, ctx), 'full');
    } finally {
      model.dispose();
    }
  });

  test('holds fewer tensor bytes at its peak', async () => {
    const model = DecoderModel.load(modelDir('tiny-qwen2'));
    const adapter = LoraAdapter.load(path.join(modelDir('tiny-qwen2'), 'cases', 'adapter_init'), model);
    const vars = adapter.variables();
    const ids = Array.from({ length: 384 }, (_, t) => (t * 37) % 500);
    const batch = [{ input_ids: ids, labels: ids }, { input_ids: ids, labels: ids }];
    const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
    const peak = async (on: boolean) => (await tf.profile(async () => void (await gradients(model, on, batch, vars, ctx)))).peakBytes;
    try {
      const plain = await peak(false);
      const checkpointed = await peak(true);
      assert.ok(checkpointed < 0.7 * plain, `peak with checkpointing ${checkpointed} bytes, without ${plain}`);
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });
});
