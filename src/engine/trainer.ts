// The training loop behind `ftune train`: data → batches → optimiser steps, with evaluation,
// checkpoints, exact resume and a stream of TrainerEvents (stdout JSON lines + <out>/metrics.jsonl).
//
// Data order is a pure function of (seed, epoch), dropout/noise seeds of (seed, step, micro-batch),
// so a run resumed from a checkpoint continues exactly as if it had never stopped.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainerEvent } from '../core/protocol';
import { mixSeed, permutation } from '../core/random';
import { resolveLoraTargets, serializeRunConfig, type RunConfig } from '../core/runConfig';
import { acquireRunLock } from '../core/runLock';
import { cleanPartialFolders, installFolder } from '../core/installFolder';
import { writeFileAtomic } from '../core/safetensors';
import { loadTokenizer, type Tokenizer } from '../core/tokenizer';
import { initBackend } from './backend';
import { cleanPartialCheckpoints, listCheckpoints, readOptimizerState, readTrainerState, saveCheckpoint, type TrainerState } from './checkpoint';
import { saveFullModel } from './export';
import { LoraAdapter } from './lora';
import { assertGpuComputesRight } from './gpuSelfCheck';
import { DecoderModel } from './model';
import { planMethod } from './methods';
import type { StepContext } from './objectives';
import { AdamW, learningRate } from './optimizer';
import { optimizerStep } from './step';
import { TensorBoardReporter } from '../core/tensorboard/reporter';
import { cleanBest } from './bestCheckpoint';
import { BestKeeper } from './earlyStopping';
import { evalSetConfig, TrainingEvaluator } from './evalDuringTraining';

export type TrainOutcome = 'done' | 'stopped' | 'failed';

export interface TrainOptions {
  config: RunConfig;
  resume: boolean;
  emit: (event: TrainerEvent) => void;
  /** aborting saves a checkpoint and ends the run as 'stopped'. */
  signal?: AbortSignal;
}

const METRICS_FILE = 'metrics.jsonl';
const EXPLODING_GRAD_NORM = 1e6;

export async function runTraining(options: TrainOptions): Promise<TrainOutcome> {
  // One trainer per run folder: the lock is the trainer's own (`ftune train` takes it earlier, before
  // it checks --out; taking it again here is a no-op then).
  const lock = acquireRunLock(options.config.out);
  try {
    return await train(options);
  } finally {
    lock.release();
  }
}

async function train(options: TrainOptions): Promise<TrainOutcome> {
  const { config, signal } = options;
  fs.mkdirSync(config.out, { recursive: true });
  const metricsFile = path.join(config.out, METRICS_FILE);
  let board: TensorBoardReporter | undefined;
  const emit = (event: TrainerEvent) => {
    fs.appendFileSync(metricsFile, JSON.stringify(event) + '\n');
    board?.onEvent(event);
    options.emit(event);
  };

  const backend = await initBackend(config.backend, { packedWeights: !config.full && config.quantize !== 'none' });
  const tokenizer = await loadTokenizer(config.model);
  const padId = padTokenId(tokenizer, config.model);
  // Full fine-tuning trains every weight: float32; LoRA keeps the frozen base 16-bit where it is stored so.
  const model = DecoderModel.load(config.model, { float32: config.full, quantize: config.full ? 'none' : config.quantize });
  try {
    await assertGpuComputesRight(model, backend); // a GPU that computes this model wrong stops the run here
  } catch (err) {
    model.dispose();
    throw err;
  }
  // Recompute each decoder layer in the backward pass instead of keeping its activations.
  model.gradientCheckpointing = config.gradient_checkpointing;
  const { adapter } = setUpTrainableWeights(model, config);
  const data = await planMethod({ config: evalSetConfig(config), tokenizer, model, adapter, padId });
  const evaluator = await TrainingEvaluator.create(config, tokenizer, data.eval);
  if (data.train.length === 0) {
    model.dispose();
    throw new Error(`${config.data}: no training examples left (${data.skipped} longer than --max-length ${config.max_length})`);
  }
  // After planning: a method may add trainable tensors to the adapter (the reward head).
  const vars = adapter ? adapter.variables() : [...model.weights.values()].filter((t): t is tf.Variable => t instanceof tf.Variable);
  const optimizer = new AdamW(vars, {
    lr: config.lr, beta1: config.adam_beta1, beta2: config.adam_beta2, eps: config.adam_eps, weightDecay: config.weight_decay,
  });

  const perStep = config.batch_size * config.grad_accum;
  const stepsPerEpoch = Math.ceil(data.train.length / perStep);
  const totalSteps = config.max_steps > 0 ? config.max_steps : Math.max(1, Math.round(config.epochs * stepsPerEpoch));
  let state: TrainerState = {
    global_step: 0, epoch: 0, data_position: 0, total_steps: totalSteps, seed: config.seed, tokens_seen: 0,
    log_history: [], weights: config.full ? 'full' : 'adapter',
  };

  cleanPartialCheckpoints(config.out);
  cleanBest(config.out, options.resume);
  const keeper = new BestKeeper(config, (dir) => adapter ? adapter.save(dir, config.model) : saveFullModel(model, config.model, dir));
  cleanPartialFolders(config.out);
  if (options.resume) {
    const last = listCheckpoints(config.out).pop();
    if (last) {
      state = restore(last.dir, model, adapter, vars, optimizer);
      state.total_steps = totalSteps;
    }
    // Killed before its first checkpoint: the run restarts from step 0, so its old step lines go too.
    truncateMetrics(metricsFile, state.global_step);
    const warning = await keeper.reconcile(state);
    if (warning) data.notes.push(warning);
  } else if (fs.existsSync(metricsFile)) {
    fs.rmSync(metricsFile);
  }
  writeFileAtomic(path.join(config.out, 'run_config.json'), [serializeRunConfig(config)]);
  if (tokenizer.chatTemplate) writeFileAtomic(path.join(config.out, 'chat_template.jinja'), [tokenizer.chatTemplate]);
  if (config.report_to?.includes('tensorboard')) board = new TensorBoardReporter(config.out, config, state.global_step);
  if (evaluator) data.notes.push(`generation metrics on ${evaluator.examples} examples of the ${evaluator.source} at every evaluation`);

  emit({
    type: 'started', run_id: path.basename(path.resolve(config.out)), method: config.method, model: config.model,
    backend: `${backend.name} (${backend.device})`, total_steps: totalSteps, examples: data.train.length,
    skipped: data.skipped, trainable_parameters: vars.reduce((n, v) => n + v.size, 0), config,
    resumed_from_step: state.global_step, time: new Date().toISOString(),
  });
  for (const note of data.notes) emit({ type: 'log', level: 'info', message: note });

  const objective = data.objective;
  const save = () => saveCheckpoint({
    out: config.out, state, optimizer, vars, adapter, baseModel: config.model,
    saveFullWeights: config.full ? (dir) => saveFullModel(model, config.model, dir) : undefined,
  });
  /** Emits an `eval` event; `stop` is set when early stopping ends the run here. */
  const evaluate = async (): Promise<{ evalLoss: number; stop?: string } | undefined> => {
    if (data.eval.length === 0) return undefined;
    const r = await data.evaluate(data.eval);
    const { perplexity, ...extra } = r.extra ?? {};
    const generation = evaluator ? await evaluator.evaluate(model, adapter) : undefined;
    const event: TrainerEvent & { type: 'eval' } = {
      type: 'eval', step: state.global_step, eval_loss: r.eval_loss, perplexity: perplexity ?? Math.exp(r.eval_loss),
      extra: Object.keys(extra).length > 0 ? extra : undefined, ...generation,
    };
    emit(event);
    const { generation_examples: _n, generation_seconds: _s, ...scores } = generation ?? {};
    state.log_history.push({ step: state.global_step, eval_loss: r.eval_loss, ...scores });
    return { evalLoss: r.eval_loss, stop: await keeper.observe(state, event) };
  };

  const started = Date.now();
  try {
    // Generation metrics start from the base model, so every curve has its step-0 point.
    if (evaluator && state.global_step === 0) await evaluate();
    while (state.global_step < totalSteps) {
      const step = state.global_step;
      const epoch = Math.floor(step / stepsPerEpoch);
      const start = (step % stepsPerEpoch) * perStep;
      const order = config.shuffle ? permutation(data.train.length, mixSeed(config.seed, epoch)) : [...data.train.keys()];
      const slice = order.slice(start, start + perStep).map((i) => data.train[i]);
      const micro: (typeof slice)[] = [];
      for (let i = 0; i < slice.length; i += config.batch_size) micro.push(slice.slice(i, i + config.batch_size));

      const lr = learningRate(config.schedule, config.lr, step, totalSteps, config.warmup_steps);
      const t0 = Date.now();
      const ctxFor = (m: number): StepContext => ({
        model, adapter, padId, training: true, seed: mixSeed(config.seed, step, m),
        neftuneAlpha: config.neftune_alpha, headTrainable: config.full,
      });
      const outcome = await optimizerStep(objective, micro, vars, optimizer, ctxFor, {
        lr, maxGradNorm: config.max_grad_norm, explodeAt: EXPLODING_GRAD_NORM,
      });
      const advice = `try a lower learning rate (--lr ${formatLr(config.lr / 10)})${config.max_grad_norm > 0 ? '' : ' or gradient clipping (--max-grad-norm 1)'}`;
      if (!outcome.applied) {
        const checkpoint = await save();
        emit({
          type: 'failed', step,
          error: `training diverged at step ${step + 1}: loss ${outcome.loss}, grad norm ${outcome.gradNorm}; that update was not applied. ` +
            `The weights from before it are saved in ${checkpoint}; ${advice}.`,
          checkpoint,
        });
        return 'failed';
      }
      state.global_step = step + 1;
      state.epoch = (step + 1) / stepsPerEpoch;
      state.data_position = start + slice.length;
      state.tokens_seen += outcome.tokens;
      state.log_history.push({ step: state.global_step, loss: outcome.loss });
      const seconds = Math.max(1e-6, (Date.now() - t0) / 1000);
      emit({
        type: 'step', step: state.global_step, total_steps: totalSteps, epoch: state.epoch, loss: outcome.loss, lr,
        grad_norm: outcome.gradNorm, tokens_per_second: outcome.tokens / seconds, tokens_seen: state.tokens_seen,
        elapsed: (Date.now() - started) / 1000, extra: Object.keys(outcome.metrics).length > 0 ? outcome.metrics : undefined,
      });

      // Cross-entropy over real label tokens never has an exactly-zero gradient in a live network: zero
      // means activations overflowed (RMSNorm then outputs 0, the loss is ln(vocab)) and no later step
      // can recover. (Reward-weighted objectives can legitimately give zero; this is for causal-lm.)
      if (objective.name === 'causal-lm' && outcome.gradNorm === 0 && outcome.weight > 0) {
        const checkpoint = await save();
        emit({
          type: 'failed', step: state.global_step,
          error: `training stalled at step ${state.global_step}: the gradient is exactly zero (loss ${outcome.loss}), so no weight can change any more, ` +
            `usually because activations overflowed after too large an update. The weights are saved in ${checkpoint}; ${advice}.`,
          checkpoint,
        });
        return 'failed';
      }
      // The loop otherwise only awaits already-resolved promises (wasm/cpu reads), so SIGTERM/SIGINT
      // handlers — which run on the event loop — would never fire before the run ended.
      await new Promise((resolve) => setImmediate(resolve));
      const last = state.global_step === totalSteps;
      const evaluated = !last && config.eval_every > 0 && state.global_step % config.eval_every === 0 ? await evaluate() : undefined;
      if (evaluated?.stop) {
        const checkpoint = await save();
        emit({ type: 'checkpoint', step: state.global_step, path: checkpoint, eval_loss: evaluated.evalLoss });
        emit({ type: 'stopped', step: state.global_step, checkpoint, reason: evaluated.stop, best: state.best });
        return 'stopped';
      }
      if (!last && config.save_every > 0 && state.global_step % config.save_every === 0) {
        emit({ type: 'checkpoint', step: state.global_step, path: await save() });
      }
      if (signal?.aborted && !last) {
        const checkpoint = await save();
        emit({ type: 'checkpoint', step: state.global_step, path: checkpoint });
        emit({ type: 'stopped', step: state.global_step, checkpoint });
        return 'stopped';
      }
    }
    const evalLoss = (await evaluate())?.evalLoss;
    if (evalLoss !== undefined) state.best_eval_loss = evalLoss;
    const checkpoint = await save();
    emit({ type: 'checkpoint', step: state.global_step, path: checkpoint, eval_loss: evalLoss });
    const finalDir = path.join(config.out, config.full ? 'model' : 'adapter');
    installFolder(finalDir, (tmp) =>
      fs.cpSync(checkpoint, tmp, { recursive: true, filter: (src) => !/(optimizer\.safetensors|trainer_state\.json)$/.test(src) }));
    emit({ type: 'done', step: state.global_step, adapter_path: finalDir, elapsed: (Date.now() - started) / 1000, best: state.best });
    return 'done';
  } finally {
    board?.close();
    data.dispose?.();
    optimizer.dispose();
    adapter?.dispose();
    model.dispose();
  }
}

/** A learning rate as a person would type it: 2e-05 → "2e-5", 1e19 → "1e19", 0.02 → "0.02". */
function formatLr(lr: number): string {
  if (lr >= 1e-3 && lr < 1e4) return String(Number(lr.toPrecision(3)));
  return Number(lr.toPrecision(3)).toExponential().replace('e+', 'e').replace(/e-0*/, 'e-');
}

function padTokenId(tokenizer: Tokenizer, modelDir: string): number {
  const id = tokenizer.padTokenId ?? tokenizer.eosTokenId;
  if (id === undefined) throw new Error(`${modelDir}: the tokenizer defines neither a pad nor an eos token`);
  return id;
}

function setUpTrainableWeights(model: DecoderModel, config: RunConfig): { adapter?: LoraAdapter } {
  if (config.full) {
    for (const [name, t] of model.weights) {
      const v = tf.variable(t, true, `full.${name}`);
      t.dispose();
      model.weights.set(name, v);
    }
    return {};
  }
  const adapter = config.init_adapter
    ? LoraAdapter.load(config.init_adapter, model, { dropout: config.lora_dropout })
    : LoraAdapter.create(model, {
        r: config.lora_r, alpha: config.lora_alpha, dropout: config.lora_dropout, targets: resolveLoraTargets(config.lora_targets),
      }, mixSeed(config.seed, 0x10a));
  return { adapter };
}

function restore(dir: string, model: DecoderModel, adapter: LoraAdapter | undefined, vars: tf.Variable[], optimizer: AdamW): TrainerState {
  const saved = readTrainerState(dir);
  if (adapter) {
    const loaded = LoraAdapter.load(dir, model);
    const from = loaded.variables();
    if (from.length !== vars.length) throw new Error(`${dir}: checkpoint has ${from.length} LoRA tensors, this run ${vars.length}`);
    vars.forEach((v, i) => v.assign(from[i]));
    loaded.dispose();
  } else {
    const store = DecoderModel.load(dir, { float32: true });
    for (const v of vars) v.assign(store.weights.get(v.name.replace(/^full\./, ''))!);
    store.dispose();
  }
  optimizer.restore(readOptimizerState(dir, vars, saved.optimizer_step));
  const { optimizer_step: _ignored, ...state } = saved;
  return state;
}

/** On resume, the curve continues from the checkpoint: later lines of the killed run are dropped. */
function truncateMetrics(file: string, step: number): void {
  if (!fs.existsSync(file)) return;
  const kept = fs.readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (!line.trim()) return false;
    try {
      const e = JSON.parse(line) as { step?: number };
      return e.step === undefined || e.step <= step;
    } catch {
      return false;
    }
  });
  writeFileAtomic(file, [kept.map((l) => l + '\n').join('')]);
}
