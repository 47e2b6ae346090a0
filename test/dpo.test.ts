// DPO against ../shared/conformance/*/cases/dpo.json: log-probs, rewards, loss, gradients and the
// adapter after 3 AdamW steps, for both fixture models.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadPreferencePairs } from '../src/core/preferences';
import { loadTokenizer } from '../src/core/tokenizer';
import { initBackend } from '../src/engine/backend';
import { dpoObjective, dpoTerms, preferenceBatch, referenceLogps, sequenceLogps } from '../src/engine/dpo';
import { LoraAdapter } from '../src/engine/lora';
import { DecoderModel } from '../src/engine/model';
import type { StepContext } from '../src/engine/objectives';
import { AdamW } from '../src/engine/optimizer';
import { accumulate, optimizerStep } from '../src/engine/step';
import { assertClose, CONFORMANCE_MODELS, modelDir, readCase, readSafetensorsAll } from './helpers/conformance';

interface DpoCase {
  beta: number; loss: number; rtol: number; atol: number;
  chosen_rewards: number[]; rejected_rewards: number[];
  policy_chosen_logps: number[]; policy_rejected_logps: number[];
  reference_chosen_logps: number[]; reference_rejected_logps: number[];
  train: { steps: number; lr: number; weight_decay: number; losses: number[] };
}

const PAD = 509;

before(async () => {
  await initBackend('wasm');
});

for (const name of CONFORMANCE_MODELS) {
  describe(`DPO conformance: ${name}`, () => {
    const dir = modelDir(name);
    test('log-probs, rewards, loss, gradients and the adapter after 3 steps', async () => {
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
    });
  });
}
