// Checkpoints: <out>/checkpoints/step-N/ holds the adapter (PEFT files) or full weights, the
// optimizer moments (optimizer.safetensors) and trainer_state.json. The folder is written under a
// temporary name and renamed into place, so a crash at any moment leaves either the previous complete
// checkpoint or the new complete one — never half of one.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import type { BestRecord, GenerationMetricKey } from '../core/bestMetric';
import { SafetensorsFile, writeFileAtomic, writeSafetensors } from '../core/safetensors';
import type { LoraAdapter } from './lora';
import type { AdamW, AdamWState } from './optimizer';

export interface TrainerState {
  /** optimiser steps completed. */
  global_step: number;
  epoch: number;
  /** examples consumed in the current epoch's order. */
  data_position: number;
  total_steps: number;
  seed: number;
  tokens_seen: number;
  best_eval_loss?: number;
  log_history: ({ step: number; loss?: number; eval_loss?: number } & Partial<Record<GenerationMetricKey, number>>)[];
  /** how the trainable weights are stored in this checkpoint. */
  weights: 'adapter' | 'full';
  /** the best evaluation so far (--best-metric) and the early-stopping patience counter. */
  best?: BestRecord;
  evaluations_without_improvement?: number;
}

export const CHECKPOINTS_DIR = 'checkpoints';

export function checkpointDir(out: string, step: number): string {
  return path.join(out, CHECKPOINTS_DIR, `step-${step}`);
}

/** Complete checkpoints (those with trainer_state.json), newest last. */
export function listCheckpoints(out: string): { step: number; dir: string }[] {
  const root = path.join(out, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((name) => ({ name, m: /^step-(\d+)$/.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null)
    .map((e) => ({ step: Number(e.m[1]), dir: path.join(root, e.name) }))
    .filter((e) => fs.existsSync(path.join(e.dir, 'trainer_state.json')))
    .sort((a, b) => a.step - b.step);
}

export interface SaveInputs {
  out: string;
  state: TrainerState;
  optimizer: AdamW;
  vars: tf.Variable[];
  adapter?: LoraAdapter;
  baseModel: string;
  /** writes the full model (full fine-tuning) into a folder. */
  saveFullWeights?: (dir: string) => Promise<void>;
  /** older checkpoints beyond this many are removed (0 = keep all). */
  keep?: number;
}

export async function saveCheckpoint(inputs: SaveInputs): Promise<string> {
  const final = checkpointDir(inputs.out, inputs.state.global_step);
  // The same step saved twice (a Stop that lands on a save step, a failure right after a save): the
  // weights and optimizer state cannot have changed, so the complete checkpoint on disk is kept as
  // it is. Replacing it would mean deleting it first, and a kill in between would lose it.
  if (fs.existsSync(path.join(final, 'trainer_state.json'))) return final;
  const tmp = `${final}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  if (inputs.adapter) await inputs.adapter.save(tmp, inputs.baseModel);
  else if (inputs.saveFullWeights) await inputs.saveFullWeights(tmp);
  await testPause();
  const opt = await inputs.optimizer.state();
  const moments = inputs.vars.flatMap((v, i) => [
    { name: `m.${i}`, shape: v.shape, data: opt.m[i] },
    { name: `v.${i}`, shape: v.shape, data: opt.v[i] },
  ]);
  writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments, { metadata: { step: String(opt.step) } });
  await testPause();
  // trainer_state.json last: its presence marks the checkpoint complete.
  writeFileAtomic(path.join(tmp, 'trainer_state.json'), [JSON.stringify({ ...inputs.state, optimizer_step: opt.step }, null, 2) + '\n']);
  await testPause();
  // An incomplete folder under the final name (never written by this code; a copy by hand) gives way.
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  if (inputs.keep && inputs.keep > 0) {
    for (const old of listCheckpoints(inputs.out).slice(0, -inputs.keep)) fs.rmSync(old.dir, { recursive: true, force: true });
  }
  return final;
}

/**
 * Test hook: FTUNE_TEST_SLOW_CHECKPOINT_MS pauses between the writes of a checkpoint, so that the
 * kill tests (test/engine/resume.test.ts) can land a SIGKILL inside one. Unset in normal use: no pause.
 */
async function testPause(): Promise<void> {
  const ms = Number(process.env.FTUNE_TEST_SLOW_CHECKPOINT_MS ?? 0);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

export function readTrainerState(dir: string): TrainerState & { optimizer_step: number } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerState & { optimizer_step: number };
}

export function readOptimizerState(dir: string, vars: tf.Variable[], step: number): AdamWState {
  const file = SafetensorsFile.open(path.join(dir, 'optimizer.safetensors'));
  try {
    return {
      step,
      m: vars.map((_, i) => file.readFloat32(`m.${i}`).data),
      v: vars.map((_, i) => file.readFloat32(`v.${i}`).data),
    };
  } finally {
    file.close();
  }
}

/**
 * Tidies the temp folders left by a checkpoint write that was killed (the caller holds the run lock,
 * so no live trainer is writing them). A complete one (trainer_state.json is written last) whose step
 * has no checkpoint is promoted to it: it was killed between its last write and its rename. Anything
 * else is removed.
 */
export function cleanPartialCheckpoints(out: string): void {
  const root = path.join(out, CHECKPOINTS_DIR);
  if (!fs.existsSync(root)) return;
  for (const name of fs.readdirSync(root)) {
    const m = /^(step-\d+)\.tmp-\d+$/.exec(name);
    if (!m && !/\.tmp-\d+$/.test(name)) continue;
    const tmp = path.join(root, name);
    const final = m ? path.join(root, m[1]) : undefined;
    if (final && !fs.existsSync(final) && fs.existsSync(path.join(tmp, 'trainer_state.json'))) fs.renameSync(tmp, final);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}
