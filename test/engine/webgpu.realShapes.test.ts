// The real-shape matrix: for each supported family at the exact config.json values of a popular
// checkpoint (1–2 layers, seeded random weights in BF16, the real tokenizer where the vocabulary
// matters), the webgpu backend must compute what the wasm backend computes: logits of a padded batch,
// eval loss, greedy decoding with the KV cache, the logits of one cached decoding step after a
// left-padded prefill, one LoRA step and the GPU self-check at every shape; greedy decoding and a DPO
// loss at the shapes named in EVERY_CHECK (see there why those).
//
// No GPU is lent to this project's CI: Mesa's lavapipe (scripts/setup-webgpu.sh) is the stand-in.
// Its maxStorageBufferBindingSize is 128 MiB, the WebGPU default, so every vocabulary here
// (49k–152k rows × 896–2048 floats = 189 MB – 1 GiB) is over a binding and exercises the split paths.
// Without any adapter the webgpu half is skipped (reason printed); the wasm half always runs, so the
// matrix also shows that wasm holds these shapes within its 4 GiB heap.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { loadTokenizer } from '../../src/core/tokenizer';
import { mulberry32 } from '../../src/core/random';
import { initBackend } from '../../src/engine/backend';
import { collate, idsTensor, type Sequence } from '../../src/engine/batch';
import { dpoTerms, preferenceBatch, referenceLogps, sequenceLogps } from '../../src/engine/dpo';
import { evaluateLoss } from '../../src/engine/evaluate';
import { runGpuSelfCheck, type SelfCheckResult } from '../../src/engine/gpuSelfCheck';
import { generate } from '../../src/engine/generate';
import { IGNORE_INDEX } from '../../src/engine/loss';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import { webGpuUnavailableReason } from '../../src/engine/webgpu';
import { oneLoraStep } from '../helpers/loraStep';
import { REAL_SHAPES, writeRealShapeModel, type RealShape } from '../helpers/realShapes';

/** What one backend computes for one model; an error is kept so that the other results still compare. */
interface Results {
  device: string;
  logits?: Float32Array;
  evalLoss?: number;
  greedy?: number[];
  /** logits [2, V] of one KV-cached step after a left-padded prefill. */
  decodeStep?: Float32Array;
  lora?: { loss: number; gradNorm: number; adapter: Float32Array };
  dpo?: { loss: number; reference: number[] };
  /** how the frozen projections and the embedding are held (the BF16 checkpoint's 16 bits, by default). */
  held?: { projection?: string; embedding?: string };
  /** webgpu only: the self-check that precedes every run on a GPU. */
  selfCheck?: SelfCheckResult;
  errors: Record<string, string>;
}

/**
 * The shapes that also run greedy decoding through generate() and a DPO loss. Lavapipe computes a
 * real vocabulary at well under 1 GFLOP/s, so each full-vocabulary pass costs seconds; these two
 * checks add six such passes per shape while the quantities every shape runs already cover their
 * kernels at that shape (the KV-cached 1-row products in the decode step, the chunked log-probs in
 * the eval loss and the LoRA step). They stay where they found or would find something: Qwen2.5-0.5B
 * (the tutorial's model, where DPO read 0.693 and greedy [0,0,0,0] before row blocks) and Gemma-3-270M
 * (the largest vocabulary: 6 blocks of 262,144 rows).
 */
const EVERY_CHECK = new Set(['Qwen2.5-0.5B', 'Gemma-3-270M']);

const GSM8K_TEXT = 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?';

/** Two sequences of different lengths (the batch is right-padded), ids from the real tokenizer where there is one. */
async function sequences(shape: RealShape, dir: string): Promise<{ seqs: Sequence[]; padId: number }> {
  const V = shape.config.vocab_size as number;
  let ids: number[];
  if (shape.tokenizerPackage) {
    const tokenizer = await loadTokenizer(dir);
    // special tokens (ids above 151,000) land in the last vocabulary block
    ids = tokenizer.encode(`<|im_start|>user\n${GSM8K_TEXT}<|im_end|>\n<|im_start|>assistant\n`);
  } else {
    // seeded ids over the whole vocabulary, the last rows included (they live in the last block)
    const rand = mulberry32(7);
    ids = [V - 1, ...Array.from({ length: 14 }, () => Math.floor(rand() * V)), V - 2];
  }
  const a = ids.slice(0, 14);
  const b = ids.slice(ids.length - 9);
  const labelled = (x: number[]) => x.map((id, i) => (i < 3 ? IGNORE_INDEX : id));
  return { seqs: [{ input_ids: a, labels: labelled(a) }, { input_ids: b, labels: labelled(b) }], padId: (shape.config.eos_token_id as number) };
}

/** LoRA on q_proj and v_proj with seeded A and B (B non-zero, so the step-0 gradients of A are too). */
function seededAdapter(model: DecoderModel): LoraAdapter {
  const adapter = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj'] }, 3);
  const rand = mulberry32(11);
  for (const v of adapter.variables()) {
    const values = Float32Array.from({ length: v.size }, () => (2 * rand() - 1) * 0.05);
    v.assign(tf.tensor(values, v.shape));
  }
  return adapter;
}

async function compute(backend: 'wasm' | 'webgpu', shape: RealShape, dir: string): Promise<Results> {
  const info = await initBackend(backend);
  const out: Results = { device: info.device, errors: {} };
  const { seqs, padId } = await sequences(shape, dir);
  const model = DecoderModel.load(dir);
  const last = (shape.config.num_hidden_layers as number) - 1;
  out.held = { projection: model.packed.get(`model.layers.${last}.mlp.down_proj.weight`)?.kind, embedding: model.packed.get('model.embed_tokens.weight')?.kind };
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      out.errors[what] = (err as Error).message.split('\n')[0];
    }
  };
  try {
    await attempt('logits', async () => {
      const batch = collate(seqs, padId);
      const logits = tf.tidy(() => model.logits(model.forward(idsTensor(batch)).hidden));
      const all = (await logits.data()) as Float32Array;
      logits.dispose();
      // only the unpadded positions: padding's logits are whatever the model makes of the pad id
      const V = shape.config.vocab_size as number;
      const keep: number[] = [];
      seqs.forEach((s, b) => { for (let t = 0; t < s.input_ids.length; t++) keep.push(b * batch.T + t); });
      out.logits = new Float32Array(keep.length * V);
      keep.forEach((row, i) => out.logits!.set(all.subarray(row * V, (row + 1) * V), i * V));
    });
    await attempt('eval loss', async () => {
      out.evalLoss = (await evaluateLoss(model, undefined, seqs, { batchSize: 2, padId })).loss;
    });
    if (EVERY_CHECK.has(shape.name)) await attempt('greedy', async () => {
      const r = await generate(model, { promptIds: seqs[0].input_ids, options: { max_new_tokens: 3, greedy: true, stop: false }, eosIds: [] });
      out.greedy = r.tokenIds;
    });
    await attempt('decodeStep', async () => {
      // Prefill a left-padded batch of both sequences, then one step of one token each against the
      // cache: every logit of the step, not only its argmax (a 3-token greedy of a random model hid a
      // wrong 1-row product before).
      const T = Math.max(...seqs.map((s) => s.input_ids.length));
      const padded = seqs.map((s) => [...Array(T - s.input_ids.length).fill(padId), ...s.input_ids]);
      const mask = seqs.map((s) => [...Array(T - s.input_ids.length).fill(0), ...Array(s.input_ids.length + 1).fill(1)]);
      const step = tf.tidy(() => {
        const prefill = model.forward(tf.tensor2d(padded.flat(), [2, T], 'int32'), {
          cache: { layers: [], length: 0 },
          attentionMask: tf.tensor2d(mask.flatMap((m) => m.slice(0, T)), [2, T], 'int32'),
        });
        const next = tf.tensor2d(seqs.map((s) => s.input_ids[1]), [2, 1], 'int32');
        const r = model.forward(next, { cache: prefill.cache, attentionMask: tf.tensor2d(mask.flat(), [2, T + 1], 'int32') });
        return model.logits(r.hidden);
      });
      out.decodeStep = (await step.data()) as Float32Array;
      step.dispose();
    });
    await attempt('lora step', async () => {
      const adapter = seededAdapter(model);
      try {
        out.lora = await oneLoraStep(model, adapter, seqs, padId);
      } finally {
        adapter.dispose();
      }
    });
    if (EVERY_CHECK.has(shape.name)) await attempt('dpo', async () => {
      // the DPO loss of one pair: reference log-probs with the adapter off, policy log-probs with it on
      // (the backward pass through the same log-probs is the LoRA step's, checked above)
      const adapter = seededAdapter(model);
      const example = (s: Sequence) => ({ input_ids: [...s.input_ids], labels: [...s.labels], line: 1 });
      const batch = preferenceBatch([{ chosen: example(seqs[0]), rejected: example(seqs[1]), line: 1 }], padId);
      try {
        const reference = await referenceLogps(model, adapter, batch);
        const loss = tf.tidy(() => dpoTerms(sequenceLogps(model, adapter, batch, false), reference, 0.1).loss);
        out.dpo = { loss: (await loss.data())[0], reference: Array.from(reference) };
        loss.dispose();
      } finally {
        adapter.dispose();
      }
    });
    if (backend === 'webgpu') await attempt('self-check', async () => { out.selfCheck = await runGpuSelfCheck(model); });
  } finally {
    model.dispose();
  }
  return out;
}

/** max |a − b| over max |b|: one number that says how far webgpu is from wasm. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

const TOLERANCE = 2e-4;

for (const shape of REAL_SHAPES) {
  describe(`${shape.name} shape (${shape.config.num_hidden_layers} layer(s), vocabulary ${shape.config.vocab_size}): webgpu equals wasm`, () => {
    let dir = '';
    let wasm: Results;
    let gpu: Results | undefined;
    let skip: string | undefined;
    before(async () => {
      const started = Date.now();
      dir = writeRealShapeModel(shape);
      wasm = await compute('wasm', shape, dir);
      skip = await webGpuUnavailableReason();
      if (!skip) gpu = await compute('webgpu', shape, dir);
      process.stdout.write(`${shape.name}: wasm (${wasm.device}) and ${gpu ? gpu.device : `no webgpu (${skip})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
    after(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const check = (what: keyof Omit<Results, 'device' | 'errors'>, label: string, compare: (g: Results, w: Results) => void) => {
      test(label, (t) => {
        assert.deepEqual(wasm.errors, {}, 'the wasm backend computes every quantity at this shape');
        if (skip) return t.skip(skip);
        assert.ok(gpu);
        assert.equal(gpu.errors[label] ?? gpu.errors[what], undefined, `webgpu failed: ${JSON.stringify(gpu.errors)}`);
        compare(gpu, wasm);
      });
    };
    check('logits', 'logits', (g, w) => {
      const err = relativeError(g.logits!, w.logits!);
      assert.ok(err < TOLERANCE, `logits differ: max |webgpu − wasm| / max |wasm| = ${err}`);
    });
    check('evalLoss', 'eval loss', (g, w) => {
      assert.ok(w.evalLoss! > 1, `a random model's loss is large (${w.evalLoss})`);
      assert.ok(Math.abs(g.evalLoss! - w.evalLoss!) < 1e-3 * w.evalLoss!, `eval loss ${g.evalLoss} on webgpu, ${w.evalLoss} on wasm`);
    });
    if (EVERY_CHECK.has(shape.name)) {
      check('greedy', 'greedy decoding with the KV cache', (g, w) => {
        assert.equal(w.greedy!.length, 3);
        assert.deepEqual(g.greedy, w.greedy);
      });
    }
    check('decodeStep', 'logits of one KV-cached decoding step after a left-padded prefill', (g, w) => {
      const err = relativeError(g.decodeStep!, w.decodeStep!);
      assert.ok(err < TOLERANCE, `decode-step logits differ: max |webgpu − wasm| / max |wasm| = ${err}`);
    });
    check('lora', 'one LoRA step (loss, gradient norm, updated adapter)', (g, w) => {
      // both backends hold the frozen base 16-bit, as a BF16 checkpoint loads by default
      assert.deepEqual(w.held, { projection: 'bf16', embedding: 'bf16' });
      assert.deepEqual(g.held, w.held);
      assert.ok(Math.abs(g.lora!.loss - w.lora!.loss) < 1e-3 * w.lora!.loss, `loss ${g.lora!.loss} vs ${w.lora!.loss}`);
      assert.ok(Math.abs(g.lora!.gradNorm - w.lora!.gradNorm) < 2e-3 * w.lora!.gradNorm, `grad norm ${g.lora!.gradNorm} vs ${w.lora!.gradNorm}`);
      // AdamW's first step moves each element by about ±lr whatever the gradient's size, so an element
      // whose gradient is ~0 may move the other way (the conformance README allows 0.1% such flips).
      const a = g.lora!.adapter, e = w.lora!.adapter;
      let flipped = 0;
      for (let i = 0; i < e.length; i++) if (!(Math.abs(a[i] - e[i]) <= 1e-4)) flipped++;
      assert.ok(flipped <= 0.001 * e.length, `${flipped} of ${e.length} adapter values differ by more than lr/10 after the step`);
    });
    // Not a false alarm: at the Llama-3.2-1B shape this check found tfjs-webgpu's split-K matMul reading a
    // transposed B wrong (k/v_proj for ≤ 8 tokens; fixed in src/engine/kernels/webgpu/matMul.ts, fast test
    // in test/engine/kernels/webgpu.matMul.test.ts). The quantities above batch 14 + 9 tokens (28 rows), which tfjs never
    // gives that program; greedy decoding's 1-row steps did reach it, but only 3 tokens of a random model
    // are compared there, whose argmax survived the error.
    test('the GPU self-check passes (the real head split into blocks, rows at every block edge compared)', (t) => {
      if (skip) return t.skip(skip);
      assert.equal(gpu!.errors['self-check'], undefined);
      assert.ok(gpu!.selfCheck!.ok, JSON.stringify(gpu!.selfCheck));
    });
    if (EVERY_CHECK.has(shape.name)) check('dpo', 'DPO loss (reference and policy log-probs)', (g, w) => {
      const err = relativeError(g.dpo!.reference, w.dpo!.reference);
      assert.ok(err < 2e-4, `reference log-probs ${g.dpo!.reference} vs ${w.dpo!.reference}`);
      assert.ok(Math.abs(g.dpo!.loss - w.dpo!.loss) < 2e-3 + 1e-3 * w.dpo!.loss, `DPO loss ${g.dpo!.loss} vs ${w.dpo!.loss}`);
    });
  });
}
