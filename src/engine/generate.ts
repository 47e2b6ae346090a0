// Autoregressive decoding with a KV cache: one prefill pass over the prompt, then one token at a
// time against the cached keys/values. Greedy, or temperature / top-k / top-p sampling with a seed.
import * as tf from '@tensorflow/tfjs-core';
import type { DecodingOptions } from '../core/protocol';
import { mulberry32 } from '../core/random';
import type { LoraAdapter } from './lora';
import type { DecoderModel, KVCache } from './model';

export interface GenerateRequest {
  promptIds: readonly number[];
  options: DecodingOptions;
  /** token ids that end generation when options.stop is set (generation_config.json's eos ids). */
  eosIds: readonly number[];
  adapter?: LoraAdapter;
  /** false recomputes the whole sequence every step (the reference the cache must match). */
  useCache?: boolean;
  onToken?: (tokenId: number) => void;
  signal?: AbortSignal;
}

export interface GenerateResult {
  tokenIds: number[];
  /** the top-2 logit margin of each step (how decisive greedy decoding was). */
  top2Gaps: number[];
  cancelled: boolean;
  seconds: number;
}

export async function generate(model: DecoderModel, request: GenerateRequest): Promise<GenerateResult> {
  const { options } = request;
  if (request.promptIds.length === 0) throw new Error('the prompt is empty');
  const rand = mulberry32(options.seed ?? 0);
  const sequence = [...request.promptIds];
  const out: number[] = [];
  const gaps: number[] = [];
  const started = Date.now();
  let cache: KVCache | undefined;
  let cancelled = false;
  try {
    for (let i = 0; i < options.max_new_tokens; i++) {
      if (request.signal?.aborted) {
        cancelled = true;
        break;
      }
      const useCache = request.useCache !== false;
      const feed = useCache && cache ? sequence.slice(-1) : sequence;
      const previous = cache;
      // tidy keeps every tensor reachable from the returned object (the logits and the new cache).
      const step = tf.tidy(() => {
        const ids = tf.tensor2d(Int32Array.from(feed), [1, feed.length], 'int32');
        const r = model.forward(ids, { adapter: request.adapter, cache: useCache ? previous ?? { layers: [], length: 0 } : undefined });
        const last = tf.slice(r.hidden, [feed.length - 1, 0], [1, -1]);
        return { logits: tf.reshape(model.logits(last), [-1]), cache: r.cache } as unknown as tf.TensorContainer;
      }) as unknown as { logits: tf.Tensor; cache?: KVCache };
      if (previous) disposeCache(previous);
      cache = step.cache;
      const logits = (await step.logits.data()) as Float32Array;
      step.logits.dispose();
      const { token, gap } = options.greedy ? argmax(logits) : { ...sample(logits, options, rand), gap: NaN };
      gaps.push(gap);
      out.push(token);
      sequence.push(token);
      request.onToken?.(token);
      if (options.stop && request.eosIds.includes(token)) break;
      await new Promise((resolve) => setImmediate(resolve)); // let cancel/stop messages in between tokens
    }
  } finally {
    if (cache) disposeCache(cache);
  }
  return { tokenIds: out, top2Gaps: gaps, cancelled, seconds: (Date.now() - started) / 1000 };
}

function disposeCache(cache: KVCache): void {
  for (const l of cache.layers) tf.dispose([l.k, l.v]);
}

function argmax(logits: Float32Array): { token: number; gap: number } {
  let best = 0, second = -Infinity;
  for (let i = 1; i < logits.length; i++) {
    if (logits[i] > logits[best]) {
      second = logits[best];
      best = i;
    } else if (logits[i] > second) second = logits[i];
  }
  return { token: best, gap: logits[best] - second };
}

/** Temperature, then top-k, then top-p (nucleus) filtering, as transformers' logits warpers apply them. */
export function sample(logits: Float32Array, options: DecodingOptions, rand: () => number): { token: number } {
  const temperature = options.temperature ?? 1;
  if (temperature <= 0) return argmax(logits);
  let candidates = Array.from(logits, (l, id) => ({ id, l: l / temperature })).sort((a, b) => b.l - a.l);
  if (options.top_k && options.top_k > 0) candidates = candidates.slice(0, options.top_k);
  const max = candidates[0].l;
  let total = 0;
  const probs = candidates.map((c) => {
    const p = Math.exp(c.l - max);
    total += p;
    return p;
  });
  let keep = candidates.length;
  const topP = options.top_p ?? 1;
  if (topP < 1) {
    let cumulative = 0;
    for (let i = 0; i < probs.length; i++) {
      cumulative += probs[i] / total;
      if (cumulative >= topP) {
        keep = i + 1;
        break;
      }
    }
  }
  const kept = probs.slice(0, keep);
  const keptTotal = kept.reduce((a, b) => a + b, 0);
  let r = rand() * keptTotal;
  for (let i = 0; i < keep; i++) {
    r -= kept[i];
    if (r <= 0) return { token: candidates[i].id };
  }
  return { token: candidates[keep - 1].id };
}
