// The training engine against references computed here, independently: PEFT adapter files, the
// learning-rate schedules of transformers' get_scheduler, torch's clip_grad_norm_ and AdamW,
// gradient accumulation, full fine-tuning through the embedding's scatter gradient, NEFTune noise.
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { loadExamples } from '../../src/core/examples';
import { parseModelConfig } from '../../src/core/modelConfig';
import type { TrainerEvent } from '../../src/core/protocol';
import { mulberry32 } from '../../src/core/random';
import type { Schedule } from '../../src/core/runConfig';
import { SafetensorsFile } from '../../src/core/safetensors';
import { loadTokenizer } from '../../src/core/tokenizer';
import { parse, runConfigFromArgs, TRAIN_OPTIONS } from '../../src/cli/args';
import { initBackend } from '../../src/engine/backend';
import type { Sequence } from '../../src/engine/batch';
import { evaluateLoss } from '../../src/engine/evaluate';
import { LoraAdapter } from '../../src/engine/lora';
import { DecoderModel } from '../../src/engine/model';
import { causalLmObjective, type Objective, type StepContext } from '../../src/engine/objectives';
import { AdamW, clipCoefficient, globalNorm, learningRate } from '../../src/engine/optimizer';
import { optimizerStep } from '../../src/engine/step';
import { runTraining } from '../../src/engine/trainer';
import { LLAMA3_CONFIG, writeTinyModel } from '../helpers/tinyModels';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const TINY = path.join(ROOT, 'examples', 'models', 'tiny-gsm8k-base');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-engine-'));
const PAD = 509;

/** A few short prompt/completion examples (sums), one per line. */
function writeSums(file: string, n: number): string {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `What is ${i + 2} + ${i % 3 + 1}?\n`, completion: `${i + 2} + ${i % 3 + 1} = ${i + 2 + (i % 3) + 1}\n#### ${i + 2 + (i % 3) + 1}` }));
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function train(argv: string[]): Promise<{ outcome: string; events: TrainerEvent[] }> {
  const config = runConfigFromArgs(parse(argv, TRAIN_OPTIONS, 'usage').values);
  const events: TrainerEvent[] = [];
  const outcome = await runTraining({ config, resume: false, emit: (e) => events.push(e) });
  return { outcome, events };
}

function steps(events: TrainerEvent[]): Extract<TrainerEvent, { type: 'step' }>[] {
  return events.filter((e): e is Extract<TrainerEvent, { type: 'step' }> => e.type === 'step');
}

function closeTo(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-12), `${what}: ${actual} vs ${expected}`);
}

/** Gives every LoRA B a seeded non-zero value, so that the adapter changes the model (B = 0 at init). */
function randomizeB(adapter: LoraAdapter, seed: number): void {
  let s = seed;
  for (const m of adapter.allModules()) m.B.assign(tf.randomNormal(m.B.shape, 0, 0.05, 'float32', s++));
}

function logits(model: DecoderModel, ids: number[], adapter?: LoraAdapter): Float32Array {
  const t = tf.tidy(() => model.logits(model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { adapter }).hidden));
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

before(async () => {
  await initBackend('wasm');
});

// ---------------------------------------------------------------- LoRA files

describe('LoRA adapters in PEFT format', () => {
  test('save → load round trip: PEFT tensor names and shapes, adapter_config.json fields, identical outputs', async () => {
    const model = DecoderModel.load(TINY);
    const settings = { r: 4, alpha: 8, dropout: 0.1, targets: ['v_proj', 'q_proj', 'down_proj'] };
    const adapter = LoraAdapter.create(model, settings, 3);
    randomizeB(adapter, 100);
    const dir = path.join(TMP, 'adapter-roundtrip');
    try {
      await adapter.save(dir, TINY);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config.peft_type, 'LORA');
      assert.equal(config.task_type, 'CAUSAL_LM');
      assert.equal(config.r, 4);
      assert.equal(config.lora_alpha, 8);
      assert.equal(config.lora_dropout, 0.1);
      assert.equal(config.bias, 'none');
      assert.deepEqual(config.target_modules, ['down_proj', 'q_proj', 'v_proj']);
      assert.equal(config.base_model_name_or_path, TINY);
      assert.equal(config.use_rslora, false);
      assert.equal(config.use_dora, false);
      assert.equal(config.fan_in_fan_out, false);

      const c = model.config;
      const kv = c.num_key_value_heads * c.head_dim;
      const expected = new Map<string, number[]>();
      for (let i = 0; i < c.num_hidden_layers; i++) {
        const p = `base_model.model.model.layers.${i}`;
        expected.set(`${p}.self_attn.q_proj.lora_A.weight`, [4, c.hidden_size]);
        expected.set(`${p}.self_attn.q_proj.lora_B.weight`, [c.num_attention_heads * c.head_dim, 4]);
        expected.set(`${p}.self_attn.v_proj.lora_A.weight`, [4, c.hidden_size]);
        expected.set(`${p}.self_attn.v_proj.lora_B.weight`, [kv, 4]);
        expected.set(`${p}.mlp.down_proj.lora_A.weight`, [4, c.intermediate_size]);
        expected.set(`${p}.mlp.down_proj.lora_B.weight`, [c.hidden_size, 4]);
      }
      const file = SafetensorsFile.open(path.join(dir, 'adapter_model.safetensors'));
      try {
        assert.deepEqual([...file.tensors.keys()].sort(), [...expected.keys()].sort());
        for (const [name, shape] of expected) {
          assert.deepEqual(file.info(name).shape, shape, name);
          assert.equal(file.info(name).dtype, 'F32', name);
        }
      } finally {
        file.close();
      }

      const loaded = LoraAdapter.load(dir, model);
      try {
        assert.deepEqual(loaded.settings, { r: 4, alpha: 8, dropout: 0.1, targets: ['down_proj', 'q_proj', 'v_proj'] });
        const a = adapter.variables(), b = loaded.variables();
        assert.equal(b.length, a.length);
        a.forEach((v, i) => assert.deepEqual(b[i].dataSync(), v.dataSync(), v.name));
        const ids = [12, 200, 45, 7, 301, 99];
        const withOriginal = logits(model, ids, adapter);
        assert.deepEqual(logits(model, ids, loaded), withOriginal);
        const base = logits(model, ids);
        assert.ok(base.some((x, i) => Math.abs(x - withOriginal[i]) > 1e-3), 'the adapter changes the logits');
        assert.equal(LoraAdapter.load(dir, model, { dropout: 0 }).settings.dropout, 0, 'dropout can be overridden');
      } finally {
        loaded.dispose();
      }

      // A config that disagrees with the tensors, or a kind of adapter we cannot run, is refused by name.
      const edit = (patch: Record<string, unknown>) => fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ ...config, ...patch }));
      edit({ r: 8 });
      assert.throws(() => LoraAdapter.load(dir, model), /lora_A\.weight has shape \[4,128\], expected \[8,128\]/);
      edit({ use_dora: true });
      assert.throws(() => LoraAdapter.load(dir, model), /DoRA adapters are not supported/);
      edit({ peft_type: 'IA3' });
      assert.throws(() => LoraAdapter.load(dir, model), /peft_type IA3 is not supported/);
    } finally {
      adapter.dispose();
      model.dispose();
    }
  });

  test('--init-adapter: r, lora_alpha and target_modules come from its adapter_config.json, training starts from its weights', async () => {
    const model = DecoderModel.load(TINY);
    const init = LoraAdapter.create(model, { r: 4, alpha: 12, dropout: 0, targets: ['q_proj', 'v_proj'] }, 9);
    randomizeB(init, 200);
    const initDir = path.join(TMP, 'init-adapter');
    await init.save(initDir, TINY);
    const data = writeSums(path.join(TMP, 'init.jsonl'), 4);
    const tokenizer = await loadTokenizer(TINY);
    const { examples } = await loadExamples(data, tokenizer, {});
    // What step 1 must see: the base model with the init adapter (scale 12/4 = 3, not the flags' 16/8 = 2).
    const expectedLoss = (await evaluateLoss(model, init, examples, { batchSize: 4, padId: PAD })).loss;
    const c = model.config;
    const expectedTrainable = c.num_hidden_layers * (4 * (c.hidden_size + c.num_attention_heads * c.head_dim) + 4 * (c.hidden_size + c.num_key_value_heads * c.head_dim));
    init.dispose();
    model.dispose();

    const out = path.join(TMP, 'init-run');
    const { outcome, events } = await train([
      '--model', TINY, '--data', data, '--out', out, '--init-adapter', initDir, '--max-steps', '2', '--batch-size', '4',
      '--no-shuffle', '--lora-dropout', '0', '--lr', '0.001', '--schedule', 'cosine', '--warmup-steps', '1', '--backend', 'wasm',
    ]);
    assert.equal(outcome, 'done');
    const started = events.find((e) => e.type === 'started');
    assert.ok(started && started.type === 'started');
    assert.equal(started.trainable_parameters, expectedTrainable);
    const s = steps(events);
    closeTo(s[0].loss, expectedLoss, 1e-5, 'step 1 loss = eval loss of base + init adapter');
    assert.deepEqual(s.map((e) => e.lr), [0, 0.001], 'warmup step 0 has lr 0; cosine at progress 0 has the full lr');
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(saved.r, 4);
    assert.equal(saved.lora_alpha, 12);
    assert.deepEqual(saved.target_modules, ['q_proj', 'v_proj']);
    assert.equal(saved.lora_dropout, 0, '--lora-dropout still applies');
  });
});

// ---------------------------------------------------------------- schedules, clipping, AdamW

describe('optimiser pieces against their PyTorch / transformers definitions', () => {
  /** transformers.optimization: the lr_lambda of each get_scheduler name (num_cycles 0.5 for cosine). */
  function hfLambda(schedule: Schedule, step: number, warmup: number, total: number): number {
    if (schedule === 'constant') {
      // 'constant' with warmup steps is transformers' constant_with_warmup
      return step < warmup ? step / Math.max(1.0, warmup) : 1.0;
    }
    if (step < warmup) return step / Math.max(1, warmup);
    if (schedule === 'linear') return Math.max(0.0, (total - step) / Math.max(1, total - warmup));
    const progress = (step - warmup) / Math.max(1, total - warmup);
    return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 0.5 * 2.0 * progress)));
  }

  test('learning-rate schedules: constant / linear / cosine, with and without warmup', () => {
    for (const schedule of ['constant', 'linear', 'cosine'] as const) {
      for (const [warmup, total] of [[0, 10], [3, 10], [10, 10], [1, 1], [4, 25]]) {
        for (let step = 0; step < total; step++) {
          closeTo(learningRate(schedule, 3e-4, step, total, warmup), 3e-4 * hfLambda(schedule, step, warmup, total), 1e-12, `${schedule} warmup ${warmup} total ${total} step ${step}`);
        }
      }
    }
    // spot values that do not depend on the formula above
    assert.equal(learningRate('linear', 1, 0, 10, 0), 1);
    closeTo(learningRate('linear', 1, 5, 10, 0), 0.5, 1e-12, 'linear half way');
    closeTo(learningRate('cosine', 1, 5, 10, 0), 0.5, 1e-12, 'cosine half way');
    closeTo(learningRate('cosine', 1, 2, 10, 2), 1, 1e-12, 'cosine right after warmup');
    closeTo(learningRate('linear', 1, 1, 10, 4), 0.25, 1e-12, 'warmup is linear from 0');
  });

  test('global-norm clipping is torch.nn.utils.clip_grad_norm_ (coef = max/(norm + 1e-6), only when < 1)', () => {
    const grads = [tf.tensor1d([3, 4]), tf.tensor2d([[12]])];
    const norm = globalNorm(grads);
    assert.equal(norm.dataSync()[0], 13);
    // AdamW.apply multiplies each gradient by this coefficient as it reads it (step.ts)
    const coef = clipCoefficient(13, 1);
    assert.equal(coef, 1 / (13 + 1e-6));
    const after = globalNorm(grads, coef);
    closeTo(after.dataSync()[0], 1, 1e-6, 'norm after clipping');
    assert.equal(clipCoefficient(13, 20), 1, 'below the limit: untouched');
    assert.equal(clipCoefficient(13, 0), 1, 'max_grad_norm 0 disables clipping');
    tf.dispose([...grads, norm, after]);
  });

  /** loss = Σ wᵢ·cᵢ: the gradient is exactly c, whatever w is. */
  function linearObjective(c: number[][], vars: tf.Variable[]): Objective<number> {
    return {
      name: 'linear',
      loss: () => ({ loss: tf.addN(vars.map((v, i) => tf.sum(tf.mul(v, c[i])))) as tf.Scalar, weight: 1, tokens: 1 }),
    };
  }

  test('an optimiser step logs the norm before clipping and applies the clipped gradient; NaN or exploding steps apply nothing', async () => {
    const run = async (c: number[][], maxGradNorm: number, explodeAt?: number) => {
      const vars = [tf.variable(tf.tensor1d([1, 1]), true, 'clip.a'), tf.variable(tf.tensor1d([1]), true, 'clip.b')];
      const opt = new AdamW(vars, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
      const ctx = () => ({}) as StepContext;
      const outcome = await optimizerStep(linearObjective(c, vars), [[0]], vars, opt, ctx, { lr: 0.1, maxGradNorm, explodeAt });
      const state = await opt.state();
      const values = vars.map((v) => Array.from(v.dataSync()));
      opt.dispose();
      tf.dispose(vars);
      return { outcome, state, values };
    };
    const clipped = await run([[3, 4], [12]], 1);
    assert.equal(clipped.outcome.gradNorm, 13, 'the logged grad_norm is the norm before clipping (as transformers logs it)');
    assert.equal(clipped.outcome.applied, true);
    const coef = 1 / (13 + 1e-6);
    // first moment after one step = (1 − β1)·g
    [[3, 4], [12]].forEach((g, i) => g.forEach((x, j) => closeTo(clipped.state.m[i][j], 0.1 * x * coef, 1e-5, `m[${i}][${j}]`)));
    const unclipped = await run([[3, 4], [12]], 0);
    [[3, 4], [12]].forEach((g, i) => g.forEach((x, j) => closeTo(unclipped.state.m[i][j], 0.1 * x, 1e-6, `m[${i}][${j}] unclipped`)));

    const nan = await run([[NaN, 1], [1]], 1);
    assert.equal(nan.outcome.applied, false);
    assert.deepEqual(nan.values, [[1, 1], [1]], 'weights untouched');
    assert.equal(nan.state.step, 0, 'no optimiser step counted');
    const exploding = await run([[3e6, 4e6], [0]], 1, 1e6);
    assert.equal(exploding.outcome.applied, false, 'a grad norm above explodeAt is treated like NaN');
    assert.deepEqual(exploding.values, [[1, 1], [1]]);
  });

  test('AdamW matches torch.optim.AdamW computed by hand on a 3-element tensor (3 steps, decoupled weight decay)', () => {
    const p0 = [0.5, -1.2, 2.0];
    const grads = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0.0], [1.0, 1e-4, -2.0]];
    const lrs = [1e-2, 5e-3, 2e-2];
    const [beta1, beta2, eps, wd] = [0.9, 0.999, 1e-8, 0.1];
    // torch/optim/adamw.py, _single_tensor_adamw, in float64:
    const param = [...p0], expAvg = [0, 0, 0], expAvgSq = [0, 0, 0];
    const expected: number[][] = [];
    grads.forEach((g, t) => {
      const step = t + 1, lr = lrs[t];
      for (let i = 0; i < 3; i++) {
        param[i] *= 1 - lr * wd;
        expAvg[i] += (g[i] - expAvg[i]) * (1 - beta1); // lerp_
        expAvgSq[i] = expAvgSq[i] * beta2 + (1 - beta2) * g[i] * g[i];
        const bias1 = 1 - beta1 ** step, bias2 = 1 - beta2 ** step;
        const denom = Math.sqrt(expAvgSq[i]) / Math.sqrt(bias2) + eps;
        param[i] += -(lr / bias1) * (expAvg[i] / denom);
      }
      expected.push([...param]);
    });

    const v = tf.variable(tf.tensor1d(p0), true, 'adamw.p');
    const opt = new AdamW([v], { lr: 1, beta1, beta2, eps, weightDecay: wd });
    grads.forEach((g, t) => {
      const gt = tf.tensor1d(g);
      opt.apply([gt], lrs[t]);
      gt.dispose();
      Array.from(v.dataSync()).forEach((x, i) => closeTo(x, expected[t][i], 2e-6, `step ${t + 1} element ${i}`));
    });
    opt.dispose();
    v.dispose();
  });

  test('AdamW state survives save/restore: a restored optimiser takes the same next step', async () => {
    const make = () => tf.variable(tf.tensor1d([0.3, -0.7, 1.1]), true);
    const a = make(), b = make();
    const settings = { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const optA = new AdamW([a], settings);
    for (const g of [[0.1, 0.2, -0.3], [0.5, -0.1, 0.05]]) optA.apply([tf.tensor1d(g)], 0.01);
    b.assign(a);
    const optB = new AdamW([b], settings);
    optB.restore(await optA.state());
    assert.equal(optB.step, 2);
    optA.apply([tf.tensor1d([-0.2, 0.3, 0.9])], 0.02);
    optB.apply([tf.tensor1d([-0.2, 0.3, 0.9])], 0.02);
    assert.deepEqual(b.dataSync(), a.dataSync());
    optA.dispose();
    optB.dispose();
    tf.dispose([a, b]);
  });
});

// ---------------------------------------------------------------- accumulation, full fine-tuning, NEFTune

describe('training steps on the tiny model', () => {
  test('gradient accumulation: 1×4, 2×2 and 4×1 micro-batches give the same loss, gradient and update', async () => {
    const model = DecoderModel.load(TINY);
    const rand = mulberry32(5);
    // different lengths and prompt masks, so a per-micro-batch mean would weigh tokens differently
    const sequences: Sequence[] = [[9, 3], [21, 10], [14, 2], [33, 20]].map(([len, prompt]) => {
      const ids = Array.from({ length: len }, () => Math.floor(rand() * 500));
      return { input_ids: ids, labels: ids.map((t, i) => (i < prompt ? -100 : t)) };
    });
    // What the step's loss must be: token-weighted over all four, not a mean of per-sequence means.
    const probe = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'up_proj'] }, 17);
    randomizeB(probe, 300);
    const single = await Promise.all(sequences.map((s) => evaluateLoss(model, probe, [s], { batchSize: 1, padId: PAD })));
    probe.dispose();
    const tokens = single.reduce((n, r) => n + r.label_tokens, 0);
    const tokenWeighted = single.reduce((a, r) => a + r.loss * r.label_tokens, 0) / tokens;
    const meanOfMeans = single.reduce((a, r) => a + r.loss, 0) / single.length;
    assert.ok(Math.abs(tokenWeighted - meanOfMeans) > 1e-3, 'the two averages differ on this data, so the test can tell them apart');
    const splits = { '1x4': [sequences], '2x2': [sequences.slice(0, 2), sequences.slice(2)], '4x1': sequences.map((s) => [s]) };
    const results: Record<string, { loss: number; gradNorm: number; m: Float32Array[]; after: Float32Array[] }> = {};
    try {
      for (const [name, micro] of Object.entries(splits)) {
        const adapter = LoraAdapter.create(model, { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'up_proj'] }, 17);
        randomizeB(adapter, 300);
        const vars = adapter.variables();
        const opt = new AdamW(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
        const ctx = (): StepContext => ({ model, adapter, padId: PAD, training: true, seed: 1, neftuneAlpha: 0, headTrainable: false });
        const outcome = await optimizerStep(causalLmObjective, micro, vars, opt, ctx, { lr: 1e-3, maxGradNorm: 0 });
        assert.equal(outcome.applied, true);
        results[name] = { loss: outcome.loss, gradNorm: outcome.gradNorm, m: (await opt.state()).m, after: vars.map((v) => v.dataSync() as Float32Array) };
        opt.dispose();
        adapter.dispose();
      }
      const ref = results['1x4'];
      closeTo(ref.loss, tokenWeighted, 1e-5, 'step loss is the token-weighted mean');
      for (const name of ['2x2', '4x1']) {
        const r = results[name];
        closeTo(r.loss, ref.loss, 1e-5, `${name} loss`);
        closeTo(r.gradNorm, ref.gradNorm, 1e-4, `${name} grad norm`);
        r.m.forEach((m, i) => m.forEach((x, j) => assert.ok(Math.abs(x - ref.m[i][j]) <= 1e-4 * Math.abs(ref.m[i][j]) + 1e-9, `${name} gradient ${i}[${j}]: ${x} vs ${ref.m[i][j]}`)));
        r.after.forEach((w, i) => w.forEach((x, j) => assert.ok(Math.abs(x - ref.after[i][j]) <= 1e-6, `${name} weight ${i}[${j}]`)));
      }
    } finally {
      model.dispose();
    }
  });

  test('the embedding gradient (scatter of duplicates) is right: zero for unused rows, matches a finite difference', () => {
    const dir = writeTinyModel(path.join(TMP, 'untied-llama'), LLAMA3_CONFIG, { seed: 21 });
    const model = DecoderModel.load(dir);
    const name = 'model.embed_tokens.weight';
    const table = model.weights.get(name)!;
    const embed = tf.variable(table, true, 'fd.embed');
    table.dispose();
    model.weights.set(name, embed);
    try {
      const ids = [5, 7, 5, 9, 5]; // token 5 three times: its gradient is the sum of three rows
      const R = tf.randomNormal([ids.length, model.config.hidden_size], 0, 1, 'float32', 4);
      const f = () => tf.sum(tf.mul(model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'), { training: true }).hidden, R)) as tf.Scalar;
      const { grads } = tf.variableGrads(f, [embed]);
      const G = grads[embed.name];
      const rows = G.arraySync() as number[][];
      rows.forEach((row, v) => {
        const norm = Math.hypot(...row);
        if ([5, 7, 9].includes(v)) assert.ok(norm > 1e-4, `row ${v} has a gradient`);
        else assert.equal(norm, 0, `row ${v} is not in the input`);
      });
      const g2 = tf.sum(tf.square(G)).dataSync()[0];
      const E = embed.clone();
      const h = 1e-2 / Math.sqrt(g2);
      const at = (sign: number) => {
        embed.assign(tf.add(E, tf.mul(G, sign * h)));
        const value = tf.tidy(f).dataSync()[0];
        return value;
      };
      const directional = (at(1) - at(-1)) / (2 * h);
      embed.assign(E);
      closeTo(directional, g2, 2e-2, 'finite-difference directional derivative vs |grad|²');
      tf.dispose([R, G, E]);
    } finally {
      model.dispose();
    }
  });

  test('full fine-tuning of the tiny model lowers the loss and writes a loadable model', async () => {
    const data = writeSums(path.join(TMP, 'full.jsonl'), 4);
    const out = path.join(TMP, 'full-run');
    const { outcome, events } = await train([
      '--model', TINY, '--data', data, '--out', out, '--full', '--max-steps', '5', '--batch-size', '4', '--no-shuffle',
      '--lr', '0.002', '--schedule', 'constant', '--backend', 'wasm',
    ]);
    assert.equal(outcome, 'done');
    const base = DecoderModel.load(TINY, { float32: true });
    const started = events.find((e) => e.type === 'started');
    assert.ok(started && started.type === 'started');
    assert.equal(started.trainable_parameters, base.parameterCount(), 'every weight is trained');
    const losses = steps(events).map((e) => e.loss);
    assert.equal(losses.length, 5);
    assert.ok(losses[4] < losses[0] - 0.05, `loss falls: ${losses.join(', ')}`);

    const tuned = DecoderModel.load(path.join(out, 'model'), { float32: true });
    try {
      const tokenizer = await loadTokenizer(TINY);
      const { examples } = await loadExamples(data, tokenizer, {});
      const before = await evaluateLoss(base, undefined, examples, { batchSize: 4, padId: PAD });
      const after = await evaluateLoss(tuned, undefined, examples, { batchSize: 4, padId: PAD });
      assert.ok(after.loss < before.loss - 0.05, `eval loss ${before.loss} → ${after.loss}`);
      // the (tied) embedding moved, through the scatter gradient of the lookup and the head
      const e0 = base.weights.get('model.embed_tokens.weight')!.dataSync();
      const e1 = tuned.weights.get('model.embed_tokens.weight')!.dataSync();
      assert.ok(e1.some((x, i) => Math.abs(x - e0[i]) > 1e-4), 'embedding updated');
    } finally {
      base.dispose();
      tuned.dispose();
    }
  });

  test('NEFTune: uniform noise of magnitude alpha/sqrt(T·D) on the embeddings, only while training', () => {
    // One layer whose attention and MLP outputs are zero (o_proj = down_proj = 0) and an all-zero
    // embedding: the final hidden state is rmsNorm(noise) with eps 1, which can be inverted exactly.
    const config = parseModelConfig({
      model_type: 'llama', hidden_size: 64, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 4,
      num_key_value_heads: 4, vocab_size: 16, rms_norm_eps: 1, tie_word_embeddings: true,
    });
    const weights = new Map<string, tf.Tensor>();
    const D = config.hidden_size;
    weights.set('model.embed_tokens.weight', tf.zeros([16, D]));
    weights.set('model.norm.weight', tf.ones([D]));
    const p = 'model.layers.0';
    weights.set(`${p}.input_layernorm.weight`, tf.ones([D]));
    weights.set(`${p}.post_attention_layernorm.weight`, tf.ones([D]));
    for (const proj of ['q_proj', 'k_proj', 'v_proj']) weights.set(`${p}.self_attn.${proj}.weight`, tf.randomNormal([D, D], 0, 0.1, 'float32', 1));
    weights.set(`${p}.self_attn.o_proj.weight`, tf.zeros([D, D]));
    weights.set(`${p}.mlp.gate_proj.weight`, tf.randomNormal([16, D], 0, 0.1, 'float32', 2));
    weights.set(`${p}.mlp.up_proj.weight`, tf.randomNormal([16, D], 0, 0.1, 'float32', 3));
    weights.set(`${p}.mlp.down_proj.weight`, tf.zeros([D, 16]));
    const model = new DecoderModel(config, weights);
    const alpha = 5;
    /** The noise added to the embeddings, recovered from rmsNorm(n) = n / sqrt(mean(n²) + 1). */
    const noise = (B: number, T: number, training: boolean, seed: number, neftuneAlpha = alpha): number[] => {
      const ids = tf.zeros([B, T], 'int32') as tf.Tensor2D;
      const h = tf.tidy(() => model.forward(ids, { training, neftuneAlpha, dropoutSeed: seed }).hidden);
      const rows = h.arraySync() as number[][];
      tf.dispose([ids, h]);
      return rows.flatMap((row) => {
        const s = row.reduce((a, x) => a + x * x, 0) / row.length; // = m / (m + 1)
        const scale = Math.sqrt(s / (1 - s) + 1);
        return row.map((x) => x * scale);
      });
    };
    try {
      for (const T of [64, 16]) {
        const n = noise(2, T, true, 11);
        const magnitude = alpha / Math.sqrt(T * D);
        const max = Math.max(...n.map(Math.abs));
        assert.ok(max <= magnitude * (1 + 1e-4), `T ${T}: |noise| ≤ alpha/sqrt(T·D) = ${magnitude} (max ${max})`);
        assert.ok(max > magnitude * 0.98, `T ${T}: the noise reaches its magnitude (max ${max} of ${magnitude})`);
        const mean = n.reduce((a, b) => a + b, 0) / n.length;
        const variance = n.reduce((a, b) => a + (b - mean) ** 2, 0) / n.length;
        assert.ok(Math.abs(mean) < 0.04 * magnitude, `T ${T}: mean ${mean} ≈ 0`);
        closeTo(variance, magnitude ** 2 / 3, 0.06, `T ${T}: variance of U(-a, a) is a²/3`);
        const quarters = [0, 0, 0, 0];
        for (const x of n) quarters[Math.min(3, Math.floor(((x + magnitude) / (2 * magnitude)) * 4))]++;
        for (const q of quarters) closeTo(q / n.length, 0.25, 0.15, `T ${T}: uniform histogram ${quarters}`);
      }
      assert.deepEqual(noise(1, 8, true, 3), noise(1, 8, true, 3), 'seeded: a resumed run draws the same noise');
      assert.notDeepEqual(noise(1, 8, true, 3), noise(1, 8, true, 4));
      assert.ok(noise(2, 16, false, 11).every((x) => x === 0), 'no noise at evaluation / generation');
      assert.ok(noise(2, 16, true, 11, 0).every((x) => x === 0), 'no noise when alpha is 0');
    } finally {
      model.dispose();
    }
  });
});
