// The cases of ../shared/conformance as functions, so that the wasm suites (conformance.test.ts,
// dpo.test.ts) and the webgpu suite (webgpu.test.ts) run the very same checks on their backend.
import * as assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadExamples } from '../../src/core/examples';
import { loadPreferencePairs } from '../../src/core/preferences';
import { loadTokenizer } from '../../src/core/tokenizer';
import { collate, idsTensor } from '../../src/engine/batch';
import { dpoObjective, dpoTerms, preferenceBatch, referenceLogps, sequenceLogps } from '../../src/engine/dpo';
import { evaluateLoss } from '../../src/engine/evaluate';
import { generate } from '../../src/engine/generate';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import { causalLmObjective, type StepContext } from '../../src/engine/objectives';
import { AdamW, globalNorm } from '../../src/engine/optimizer';
import { accumulate, optimizerStep } from '../../src/engine/step';
import { assertClose, modelDir, readCase, readSafetensorsAll } from './conformance';

interface EvalCase {
  token_ids: number[][]; labels: number[][]; loss: number; perplexity: number; label_tokens: number; rtol: number;
  completion_token_ids: number[][]; completion_labels: number[][]; completion_loss: number; completion_fields: Record<string, string>;
}
interface TrainCase {
  losses: number[]; grad_norms: number[]; rtol: number; atol: number;
  hyper: { lr: number; weight_decay: number; betas: [number, number]; eps: number; steps: number };
}
interface GreedyCase {
  prompt: string; prompt_ids: number[]; max_new_tokens: number;
  base: { new_token_ids: number[]; top2_gaps: number[] };
  adapter_init: { new_token_ids: number[]; top2_gaps: number[] };
}



/** Greedy tokens must agree up to the first step whose top-2 margin is below 1e-3 (README). */
function assertGreedy(actual: number[], expected: { new_token_ids: number[]; top2_gaps: number[] }, what: string): void {
  let n = expected.new_token_ids.length;
  const ambiguous = expected.top2_gaps.findIndex((g) => g < 1e-3);
  if (ambiguous >= 0) n = ambiguous + 1;
  assert.deepEqual(actual.slice(0, n), expected.new_token_ids.slice(0, n), what);
}

interface DpoCase {
  beta: number; loss: number; rtol: number; atol: number;
  chosen_rewards: number[]; rejected_rewards: number[];
  policy_chosen_logps: number[]; policy_rejected_logps: number[];
  reference_chosen_logps: number[]; reference_rejected_logps: number[];
  train: { steps: number; lr: number; weight_decay: number; losses: number[] };
}

const PAD = 509;

/** eval_loss.json: token ids, labels and the token-weighted loss of sft.jsonl and completion.jsonl. */
export async function checkEvalLoss(name: string): Promise<void> {
  const dir = modelDir(name);
    const c = readCase<EvalCase>(name, 'eval_loss.json');
    const tokenizer = await loadTokenizer(dir);
    const model = DecoderModel.load(dir);
    try {
      const sft = await loadExamples(path.join(dir, 'cases', 'sft.jsonl'), tokenizer, { format: 'messages', maxLength: 1024 });
      assert.deepEqual(sft.examples.map((e) => e.input_ids), c.token_ids);
      assert.deepEqual(sft.examples.map((e) => e.labels), c.labels);
      // Batch size must not matter: 1 and 3 give the same token-weighted loss.
      for (const batchSize of [1, 3]) {
        const r = await evaluateLoss(model, undefined, sft.examples, { batchSize, padId: PAD });
        assert.equal(r.label_tokens, c.label_tokens);
        assertClose([r.loss, r.perplexity], [c.loss, c.perplexity], c.rtol, 0, `eval loss (batch ${batchSize})`);
      }
      const completion = await loadExamples(path.join(dir, 'cases', 'completion.jsonl'), tokenizer, { fields: c.completion_fields, maxLength: 1024 });
      assert.deepEqual(completion.examples.map((e) => e.input_ids), c.completion_token_ids);
      assert.deepEqual(completion.examples.map((e) => e.labels), c.completion_labels);
      const r = await evaluateLoss(model, undefined, completion.examples, { batchSize: 2, padId: PAD });
      assertClose([r.loss], [c.completion_loss], c.rtol, 0, 'completion loss');
    } finally {
      model.dispose();
    }
}

/**
 * train_sft_lora.json: step-0 loss, gradients and their norm, then 3 AdamW steps (losses, grad norms)
 * and the adapter after them. `trajectory: false` stops after step 0's checks (the webgpu suite on
 * lavapipe, where each step of the 863-token batch costs minutes; its AdamW kernel has its own test).
 */
export async function checkLoraTraining(name: string, { trajectory = true } = {}): Promise<void> {
  const dir = modelDir(name);
    const c = readCase<TrainCase>(name, 'train_sft_lora.json');
    const data = readCase<EvalCase>(name, 'eval_loss.json');
    const batch = data.token_ids.map((ids, i) => ({ input_ids: ids, labels: data.labels[i] }));
    const model = DecoderModel.load(dir);
    const adapter = LoraAdapter.load(path.join(dir, 'cases', 'adapter_init'), model);
    const vars = adapter.variables();
    const optimizer = new AdamW(vars, { lr: c.hyper.lr, beta1: c.hyper.betas[0], beta2: c.hyper.betas[1], eps: c.hyper.eps, weightDecay: c.hyper.weight_decay });
    const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
    try {
      // Step-0 gradients in PEFT names.
      const acc = await accumulate(causalLmObjective, [batch], vars, ctx);
      const expectedGrads = readSafetensorsAll(path.join(dir, 'cases', 'lora_grads_step0.safetensors'));
      const modules = adapter.allModules();
      assert.equal(expectedGrads.size, modules.length * 2);
      for (let i = 0; i < modules.length; i++) {
        for (const [which, g] of [['A', acc.grads[2 * i]], ['B', acc.grads[2 * i + 1]]] as const) {
          const key = `base_model.model.${modules[i].prefix}.lora_${which}.weight`;
          const mean = (await tf.tidy(() => tf.div(g, acc.weight)).data()) as Float32Array;
          assertClose(mean, expectedGrads.get(key)!, c.rtol, c.atol, key);
        }
      }
      assertClose([acc.lossSum / acc.weight], [c.losses[0]], 1e-4, 0, 'step-0 loss');
      const norm = tf.tidy(() => globalNorm(acc.grads.map((g) => tf.div(g, acc.weight))));
      assertClose([(await norm.data())[0]], [c.grad_norms[0]], c.rtol, c.atol, 'step-0 grad norm');
      norm.dispose();
      tf.dispose(acc.grads);
      if (!trajectory) return;
      const losses: number[] = [], norms: number[] = [];
      for (let s = 0; s < c.hyper.steps; s++) {
        const r = await optimizerStep(causalLmObjective, [batch], vars, optimizer, ctx, { lr: c.hyper.lr, maxGradNorm: 0 });
        losses.push(r.loss);
        norms.push(r.gradNorm);
      }
      assertClose(losses, c.losses, 1e-4, 0, 'losses');
      assertClose(norms, c.grad_norms, c.rtol, c.atol, 'grad norms');
      const after = readSafetensorsAll(path.join(dir, 'cases', 'adapter_after3', 'adapter_model.safetensors'));
      let all: number[] = [], want: number[] = [];
      for (const m of modules) {
        all = all.concat(Array.from(await m.A.data()), Array.from(await m.B.data()));
        want = want.concat(Array.from(after.get(`base_model.model.${m.prefix}.lora_A.weight`)!), Array.from(after.get(`base_model.model.${m.prefix}.lora_B.weight`)!));
      }
      assertClose(all, want, c.rtol, c.atol, 'adapter after 3 steps', 0.001);
    } finally {
      optimizer.dispose();
      adapter.dispose();
      model.dispose();
    }
}

/** greedy.json: base and adapter, with and without the KV cache. */
export async function checkGreedy(name: string): Promise<void> {
  const dir = modelDir(name);
    const c = readCase<GreedyCase>(name, 'greedy.json');
    const tokenizer = await loadTokenizer(dir);
    assert.deepEqual(tokenizer.encode(c.prompt), c.prompt_ids);
    const model = DecoderModel.load(dir);
    const adapter = LoraAdapter.load(path.join(dir, 'cases', 'gen_adapter'), model);
    const options = { max_new_tokens: c.max_new_tokens, greedy: true, stop: false };
    try {
      for (const useCache of [true, false]) {
        const base = await generate(model, { promptIds: c.prompt_ids, options, eosIds: [511], useCache });
        assertGreedy(base.tokenIds, c.base, `base (cache ${useCache})`);
        assertClose(base.top2Gaps, c.base.top2_gaps, 1e-2, 1e-3, 'base top-2 gaps');
        const tuned = await generate(model, { promptIds: c.prompt_ids, options, eosIds: [511], adapter, useCache });
        assertGreedy(tuned.tokenIds, c.adapter_init, `adapter (cache ${useCache})`);
      }
    } finally {
      adapter.dispose();
      model.dispose();
    }
}

/** No tensor outlives a forward + backward + update. */
export async function checkNoLeak(name: string): Promise<void> {
  const dir = modelDir(name);
    const model = DecoderModel.load(dir);
    const adapter = LoraAdapter.create(model, { r: 2, alpha: 4, dropout: 0.1, targets: name === 'tiny-phi3' ? ['qkv_proj'] : ['q_proj', 'v_proj'] }, 1);
    const vars = adapter.variables();
    const optimizer = new AdamW(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
    const batch = [{ input_ids: [1, 2, 3, 4, 5], labels: [-100, 2, 3, 4, 5] }];
    const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 3, neftuneAlpha: 5, headTrainable: false });
    try {
      await optimizerStep(causalLmObjective, [batch], vars, optimizer, ctx, { lr: 1e-3, maxGradNorm: 1 });
      const before = tf.memory().numTensors;
      await optimizerStep(causalLmObjective, [batch, batch], vars, optimizer, ctx, { lr: 1e-3, maxGradNorm: 1 });
      const ids = idsTensor(collate(batch, PAD));
      tf.tidy(() => model.forward(ids, { adapter }).hidden).dispose();
      ids.dispose();
      assert.equal(tf.memory().numTensors, before);
    } finally {
      optimizer.dispose();
      adapter.dispose();
      model.dispose();
    }
}

/** dpo.json: log-probs, rewards, loss, gradients and the adapter after 3 DPO steps. */
export async function checkDpo(name: string): Promise<void> {
  const dir = modelDir(name);
    const c = readCase<DpoCase>(name, 'dpo.json');
    const tokenizer = await loadTokenizer(dir);
    const { pairs } = await loadPreferencePairs(path.join(dir, 'cases', 'prefs.jsonl'), tokenizer, { maxLength: 1024 });
    assert.equal(pairs.length, 2);
    const model = DecoderModel.load(dir);
    const adapter = LoraAdapter.load(path.join(dir, 'cases', 'dpo_adapter_init'), model);
    const vars = adapter.variables();
    const optimizer = new AdamW(vars, { lr: c.train.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: c.train.weight_decay });
    const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
    try {
      const batch = preferenceBatch(pairs, PAD);
      const reference = await referenceLogps(model, adapter, batch);
      assertClose(reference, [...c.reference_chosen_logps, ...c.reference_rejected_logps], c.rtol, c.atol, 'reference log-probs');
      assert.equal(adapter.enabled, true, 'the adapter is switched back on after the reference pass');
      const policyT = tf.tidy(() => sequenceLogps(model, adapter, batch, false));
      assertClose(await policyT.data(), [...c.policy_chosen_logps, ...c.policy_rejected_logps], c.rtol, c.atol, 'policy log-probs');
      const terms = tf.tidy(() => {
        const t = dpoTerms(policyT, reference, c.beta);
        return [t.loss, t.chosenRewards, t.rejectedRewards];
      });
      assertClose(await terms[0].data(), [c.loss * 2], 1e-4, 0, 'loss (sum over 2 pairs)');
      assertClose(await terms[1].data(), c.chosen_rewards, c.rtol, c.atol, 'chosen rewards');
      assertClose(await terms[2].data(), c.rejected_rewards, c.rtol, c.atol, 'rejected rewards');
      tf.dispose([policyT, ...terms]);

      const objective = dpoObjective(c.beta);
      const acc = await accumulate(objective, [pairs], vars, ctx);
      assert.equal(acc.weight, 2);
      const expected = readSafetensorsAll(path.join(dir, 'cases', 'dpo_grads.safetensors'));
      const modules = adapter.allModules();
      for (let i = 0; i < modules.length; i++) {
        for (const [which, g] of [['A', acc.grads[2 * i]], ['B', acc.grads[2 * i + 1]]] as const) {
          const key = `base_model.model.${modules[i].prefix}.lora_${which}.weight`;
          const mean = tf.tidy(() => tf.div(g, acc.weight));
          assertClose(await mean.data(), expected.get(key)!, c.rtol, c.atol, `gradient ${key}`);
          mean.dispose();
        }
      }
      tf.dispose(acc.grads);

      const losses: number[] = [];
      let accuracy = 0;
      for (let s = 0; s < c.train.steps; s++) {
        const r = await optimizerStep(objective, [pairs], vars, optimizer, ctx, { lr: c.train.lr, maxGradNorm: 0 });
        losses.push(r.loss);
        accuracy = r.metrics['rewards/accuracies'];
      }
      assertClose(losses, c.train.losses, 1e-4, 1e-6, 'DPO losses');
      assert.ok(accuracy >= 0 && accuracy <= 1);
      const after = readSafetensorsAll(path.join(dir, 'cases', 'dpo_adapter_after3', 'adapter_model.safetensors'));
      const got: number[] = [], want: number[] = [];
      for (const m of modules) {
        got.push(...(await m.A.data()), ...(await m.B.data()));
        want.push(...after.get(`base_model.model.${m.prefix}.lora_A.weight`)!, ...after.get(`base_model.model.${m.prefix}.lora_B.weight`)!);
      }
      assertClose(got, want, c.rtol, c.atol, 'adapter after 3 DPO steps', 0.001);
    } finally {
      optimizer.dispose();
      adapter.dispose();
      model.dispose();
    }
}

interface QuantCase {
  quantize: 'int8' | 'nf4'; loss: number; completion_loss: number; rtol: number;
  train: { init_adapter: string; expected_adapter: string; steps: number; losses: number[]; rtol: number; atol: number };
}

/**
 * quant_<kind>.json: eval losses of the quantized base (the token ids of eval_loss.json), then 3 LoRA
 * AdamW steps from adapter_init/ (train_sft_lora.json's settings) and the adapter after them.
 */
export async function checkQuantized(name: string, kind: 'int8' | 'nf4', { trajectory = true } = {}): Promise<void> {
  const dir = modelDir(name);
  const c = readCase<QuantCase>(name, `quant_${kind}.json`);
  const hyper = readCase<TrainCase>(name, 'train_sft_lora.json').hyper;
  const data = readCase<EvalCase>(name, 'eval_loss.json');
  const sft = data.token_ids.map((ids, i) => ({ input_ids: ids, labels: data.labels[i] }));
  const completion = data.completion_token_ids.map((ids, i) => ({ input_ids: ids, labels: data.completion_labels[i] }));
  const model = DecoderModel.load(dir, { quantize: kind });
  const adapter = LoraAdapter.load(path.join(dir, 'cases', c.train.init_adapter), model);
  const vars = adapter.variables();
  const optimizer = new AdamW(vars, { lr: hyper.lr, beta1: hyper.betas[0], beta2: hyper.betas[1], eps: hyper.eps, weightDecay: hyper.weight_decay });
  const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
  try {
    const quantized = [...model.packed.entries()].filter(([, w]) => w.kind === kind).map(([n]) => n);
    assert.equal(quantized.length, model.config.num_hidden_layers * 7, 'every projection of every layer is quantized');
    assert.ok(!model.packed.has('model.embed_tokens.weight') || model.packed.get('model.embed_tokens.weight')!.kind !== kind, 'embeddings are not quantized');
    assertClose([(await evaluateLoss(model, undefined, sft, { batchSize: 4, padId: PAD })).loss], [c.loss], c.rtol, 0, `${kind} eval loss`);
    assertClose([(await evaluateLoss(model, undefined, completion, { batchSize: 2, padId: PAD })).loss], [c.completion_loss], c.rtol, 0, `${kind} completion loss`);
    if (!trajectory) return;
    const losses: number[] = [];
    for (let s = 0; s < c.train.steps; s++) {
      losses.push((await optimizerStep(causalLmObjective, [sft], vars, optimizer, ctx, { lr: hyper.lr, maxGradNorm: 0 })).loss);
    }
    assertClose(losses, c.train.losses, 1e-4, 0, `${kind} losses`);
    const after = readSafetensorsAll(path.join(dir, 'cases', c.train.expected_adapter, 'adapter_model.safetensors'));
    const got: number[] = [], want: number[] = [];
    for (const m of adapter.allModules()) {
      got.push(...(await m.A.data()), ...(await m.B.data()));
      want.push(...after.get(`base_model.model.${m.prefix}.lora_A.weight`)!, ...after.get(`base_model.model.${m.prefix}.lora_B.weight`)!);
    }
    assertClose(got, want, c.train.rtol, c.train.atol, `${kind} adapter after ${c.train.steps} steps`, 0.001);
  } finally {
    optimizer.dispose();
    adapter.dispose();
    model.dispose();
  }
}

/** Every float of `a` has the bits of `b`'s (NaN-safe, -0 ≠ 0). */
function assertSameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]} with 16-bit weights, ${b[i]} with float32`);
}

/**
 * A model stored as BF16 / F16 gives bit-identical numbers with its frozen weights held 16-bit and
 * held float32: logits (a batch, and one decoding step with the KV cache), the eval loss, and a LoRA
 * step (loss and the adapter after it).
 */
export async function checkSixteenBitIdentical(name: string): Promise<void> {
  const dir = modelDir(name);
  const data = readCase<EvalCase>(name, 'eval_loss.json');
  const sft = data.token_ids.map((ids, i) => ({ input_ids: ids, labels: data.labels[i] }));
  const run = async (float32: boolean) => {
    const model = DecoderModel.load(dir, { float32 });
    const adapter = LoraAdapter.load(path.join(dir, 'cases', 'adapter_init'), model);
    const vars = adapter.variables();
    const optimizer = new AdamW(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 0, neftuneAlpha: 0, headTrainable: false });
    try {
      const packedKinds = [...model.packed.values()].map((w) => w.kind);
      const batch = collate(sft.slice(0, 2), PAD);
      const ids = idsTensor(batch);
      const logits = tf.tidy(() => model.logits(model.forward(ids, { adapter }).hidden));
      const prompt = tf.tensor2d([sft[0].input_ids.slice(0, 12)], [1, 12], 'int32');
      const next = tf.tensor2d([[sft[0].input_ids[12]]], [1, 1], 'int32');
      const { hidden: h0, cache } = model.forward(prompt, { adapter, cache: { layers: [], length: 0 } });
      const step = tf.tidy(() => model.logits(model.forward(next, { adapter, cache }).hidden));
      const out = {
        packedKinds,
        logits: Array.from(await logits.data()),
        decode: Array.from(await step.data()),
        loss: (await evaluateLoss(model, undefined, sft, { batchSize: 4, padId: PAD })).loss,
        stepLoss: (await optimizerStep(causalLmObjective, [sft], vars, optimizer, ctx, { lr: 1e-3, maxGradNorm: 1 })).loss,
        adapter: (await Promise.all(vars.map((v) => v.data()))).flatMap((d) => Array.from(d)),
      };
      tf.dispose([ids, logits, prompt, next, h0, step, ...(cache?.layers.flatMap((l) => [l.k, l.v]) ?? [])]);
      return out;
    } finally {
      optimizer.dispose();
      adapter.dispose();
      model.dispose();
    }
  };
  const sixteen = await run(false), float32 = await run(true);
  assert.ok(sixteen.packedKinds.length > 0 && sixteen.packedKinds.every((k) => k === 'bf16' || k === 'f16'), `16-bit storage in use: ${sixteen.packedKinds.join(', ')}`);
  assert.equal(float32.packedKinds.length, 0);
  assertSameBits(sixteen.logits, float32.logits, 'logits');
  assertSameBits(sixteen.decode, float32.decode, 'decoding step logits (KV cache)');
  assertSameBits([sixteen.loss, sixteen.stepLoss], [float32.loss, float32.stepLoss], 'eval loss and LoRA step loss');
  assertSameBits(sixteen.adapter, float32.adapter, 'adapter after one LoRA step');
}
