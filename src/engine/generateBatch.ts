// Greedy decoding of several prompts at once with a KV cache: the prompts are left-padded to one
// length (padding masked out of attention), prefilled in one pass, then each step feeds one token per
// row. RoPE only sees relative offsets, so a row's left padding does not change its result: each row
// decodes as generate() would decode it alone (test/engine/evalDuringTraining.test.ts checks this).
import * as tf from '@tensorflow/tfjs-core';
import type { LoraAdapter } from './lora';
import type { DecoderModel, KVCache } from './model';

export interface GreedyBatchRequest {
  prompts: readonly (readonly number[])[];
  maxNewTokens: number;
  /** a row stops at the first of these (generation_config.json's eos ids). */
  eosIds: readonly number[];
  /** fills the left padding (never attended to). */
  padId: number;
  adapter?: LoraAdapter;
}

/** Each prompt's new token ids (up to and including an eos id), in the order of `prompts`. */
export async function generateGreedyBatch(model: DecoderModel, request: GreedyBatchRequest): Promise<number[][]> {
  const { prompts } = request;
  const B = prompts.length;
  if (B === 0) return [];
  if (prompts.some((p) => p.length === 0)) throw new Error('a prompt is empty');
  const P = Math.max(...prompts.map((p) => p.length));
  const ids = new Int32Array(B * P).fill(request.padId);
  const mask: number[][] = prompts.map((p, b) => {
    ids.set(p, b * P + P - p.length);
    return [...new Array<number>(P - p.length).fill(0), ...new Array<number>(p.length).fill(1)];
  });
  const outputs: number[][] = prompts.map(() => []);
  const finished = new Array<boolean>(B).fill(false);
  let feed = tf.tensor2d(ids, [B, P], 'int32');
  let cache: KVCache | undefined;
  try {
    for (let i = 0; i < request.maxNewTokens && !finished.every(Boolean); i++) {
      const T = feed.shape[1];
      const previous = cache;
      const input = feed;
      const step = tf.tidy(() => {
        const attentionMask = tf.tensor2d(mask.flat(), [B, mask[0].length], 'int32');
        const r = model.forward(input, { adapter: request.adapter, cache: previous ?? { layers: [], length: 0 }, attentionMask });
        // hidden is [B·T, D]: the last position of each row predicts its next token.
        const last = tf.gather(r.hidden, tf.tensor1d(Array.from({ length: B }, (_, b) => b * T + T - 1), 'int32'));
        return { next: tf.argMax(model.logits(last), 1), cache: r.cache } as unknown as tf.TensorContainer;
      }) as unknown as { next: tf.Tensor1D; cache: KVCache };
      if (previous) disposeCache(previous);
      cache = step.cache;
      const next = Array.from((await step.next.data()) as Int32Array);
      step.next.dispose();
      for (let b = 0; b < B; b++) {
        if (finished[b]) continue;
        outputs[b].push(next[b]);
        if (request.eosIds.includes(next[b])) finished[b] = true;
      }
      // Finished rows keep decoding (their tokens are dropped): one shape for the whole batch.
      feed.dispose();
      feed = tf.tensor2d(Int32Array.from(next), [B, 1], 'int32');
      for (const row of mask) row.push(1);
      await new Promise((resolve) => setImmediate(resolve)); // let SIGTERM/SIGINT handlers run
    }
  } finally {
    feed.dispose();
    if (cache) disposeCache(cache);
  }
  return outputs;
}

function disposeCache(cache: KVCache): void {
  for (const l of cache.layers) tf.dispose([l.k, l.v]);
}
