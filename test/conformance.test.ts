// Every case of ../shared/conformance against the engine, for both fixture models.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadExamples } from '../src/core/examples';
import { loadTokenizer } from '../src/core/tokenizer';
import { initBackend } from '../src/engine/backend';
import { collate, idsTensor } from '../src/engine/batch';
import { evaluateLoss } from '../src/engine/evaluate';
import { generate } from '../src/engine/generate';
import { LoraAdapter } from '../src/engine/lora';
import { DecoderModel } from '../src/engine/model';
import { causalLmObjective, type StepContext } from '../src/engine/objectives';
import { AdamW } from '../src/engine/optimizer';
import { accumulate, optimizerStep } from '../src/engine/step';
import { assertClose, assertLogitsCase, CONFORMANCE_MODELS, modelDir, readCase, readSafetensorsAll } from './helpers/conformance';

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

const PAD = 509;

/** Greedy tokens must agree up to the first step whose top-2 margin is below 1e-3 (README). */
function assertGreedy(actual: number[], expected: { new_token_ids: number[]; top2_gaps: number[] }, what: string): void {
  let n = expected.new_token_ids.length;
  const ambiguous = expected.top2_gaps.findIndex((g) => g < 1e-3);
  if (ambiguous >= 0) n = ambiguous + 1;
  assert.deepEqual(actual.slice(0, n), expected.new_token_ids.slice(0, n), what);
}

before(async () => {
  await initBackend('wasm');
});

for (const name of CONFORMANCE_MODELS) {
  describe(`conformance: ${name}`, () => {
    const dir = modelDir(name);

    test('logits of a right-padded batch match at every unpadded position', async () => {
      await assertLogitsCase(name);
    });

    test('eval loss over sft.jsonl and completion.jsonl is token-weighted and matches', async () => {
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
    });

    test('LoRA SFT: step-0 gradients, 3 AdamW steps (losses, grad norms) and the adapter after them', async () => {
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
        tf.dispose(acc.grads);
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
    });

    test('greedy decoding, base and with adapter, with and without the KV cache', async () => {
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
    });

    test('no tensors leak across a forward + backward + update', async () => {
      const model = DecoderModel.load(dir);
      const adapter = LoraAdapter.create(model, { r: 2, alpha: 4, dropout: 0.1, targets: ['q_proj', 'v_proj'] }, 1);
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
    });
  });
}
