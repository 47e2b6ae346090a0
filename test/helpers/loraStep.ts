// One LoRA AdamW step (lr 1e-3, weight decay 0.01) over one batch, and what it computed: the loss,
// the gradient norm and the adapter after the update. For tests that compare backends at one shape.
import * as tf from '@tensorflow/tfjs-core';
import type { Sequence } from '../../src/engine/batch';
import type { LoraAdapter } from '../../src/engine/lora';
import type { DecoderModel } from '../../src/engine/model';
import { causalLmObjective, type StepContext } from '../../src/engine/objectives';
import { AdamW, globalNorm } from '../../src/engine/optimizer';
import { accumulate } from '../../src/engine/step';

export interface LoraStepResult { loss: number; gradNorm: number; adapter: Float32Array }

export async function oneLoraStep(model: DecoderModel, adapter: LoraAdapter, seqs: Sequence[], padId: number): Promise<LoraStepResult> {
  const vars = adapter.variables();
  const optimizer = new AdamW(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  const ctx = (): StepContext => ({ model, adapter, padId, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
  try {
    const acc = await accumulate(causalLmObjective, [seqs], vars, ctx);
    const averaged = acc.grads.map((g) => tf.div(g, acc.weight));
    tf.dispose(acc.grads);
    const norm = globalNorm(averaged);
    const gradNorm = (await norm.data())[0];
    norm.dispose();
    optimizer.apply(averaged, 1e-3);
    tf.dispose(averaged);
    const flat = tf.concat(vars.map((v) => tf.reshape(v, [-1])));
    const result = { loss: acc.lossSum / acc.weight, gradNorm, adapter: (await flat.data()) as Float32Array };
    flat.dispose();
    return result;
  } finally {
    optimizer.dispose();
  }
}
