// Token-weighted evaluation loss: Σ −log p over every label token of the data / number of label
// tokens — independent of how the data is batched.
import * as tf from '@tensorflow/tfjs-core';
import { collate, idsTensor, type Sequence } from './batch';
import type { LoraAdapter } from './lora';
import { crossEntropySum } from './loss';
import type { DecoderModel } from './model';

export interface EvalResult {
  loss: number;
  perplexity: number;
  label_tokens: number;
  examples: number;
}

export async function evaluateLoss(
  model: DecoderModel,
  adapter: LoraAdapter | undefined,
  data: readonly Sequence[],
  options: { batchSize: number; padId: number },
): Promise<EvalResult> {
  let sum = 0;
  let tokens = 0;
  for (let i = 0; i < data.length; i += options.batchSize) {
    const batch = collate(data.slice(i, i + options.batchSize), options.padId);
    const lossT = tf.tidy(() => crossEntropySum(model.forward(idsTensor(batch), { adapter }).hidden, model.head, batch.positions));
    sum += (await lossT.data())[0];
    lossT.dispose();
    tokens += batch.positions.rows.length;
  }
  const loss = tokens > 0 ? sum / tokens : NaN;
  return { loss, perplexity: Math.exp(loss), label_tokens: tokens, examples: data.length };
}
