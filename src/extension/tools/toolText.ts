// What the language-model tools answer, as plain text an agent can read, and the checks of their input.
// No vscode import: unit tested.

import * as fs from 'fs';
import * as path from 'path';
import { estimateTraining, modelShapeFromConfig } from '../../core/estimate';
import { DEFAULT_RUN_CONFIG, holdsPackedWeights, QUANTIZE_MODES, type BackendName, type Quantize } from '../../core/runConfig';
import type { RunSummary } from '../../core/runStore';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A required string field of a tool's input, or an error naming it. */
export function requiredString(input: unknown, key: string): string {
  const value = isRecord(input) ? input[key] : undefined;
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`input.${key} is required (a string)`);
  return value;
}

export function optionalNumber(input: unknown, key: string): number | undefined {
  const value = isRecord(input) ? input[key] : undefined;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`input.${key} must be a non-negative number`);
  return value;
}

/** A run by id or name (the newest when none is given). */
export function findRun(runs: readonly RunSummary[], wanted: string | undefined): RunSummary {
  if (runs.length === 0) throw new Error('there are no runs in this workspace yet');
  if (!wanted) return runs[0];
  const run = runs.find((r) => r.id === wanted || r.name === wanted);
  if (!run) throw new Error(`no run "${wanted}"; runs: ${runs.map((r) => r.name).join(', ')}`);
  return run;
}

export interface RunStatusResult {
  id: string;
  name: string;
  status: string;
  method: string;
  model: string;
  step: number;
  total_steps: number;
  loss?: number;
  eval_loss?: number;
  tokens_per_second?: number;
  metrics?: Record<string, number>;
  checkpoints: { step: number; path: string; eval_loss?: number }[];
  adapter?: string;
  error?: string;
}

export function runStatus(run: RunSummary): RunStatusResult {
  return {
    id: run.id, name: run.name, status: run.status, method: run.method, model: run.model, step: run.step, total_steps: run.total_steps,
    loss: run.loss, eval_loss: run.eval_loss, tokens_per_second: run.tokens_per_second, metrics: run.metrics,
    checkpoints: run.checkpoints.map((c) => ({ step: c.step, path: c.path, eval_loss: c.eval_loss })), adapter: run.adapter, error: run.error,
  };
}

export interface MemoryEstimateResult {
  model: string;
  full: boolean;
  quantize: Quantize;
  total_parameters: number;
  trainable_parameters: number;
  total_gib: number;
  weights_gib: number;
  optimizer_gib: number;
  activations_gib: number;
  /** the wasm heap's allocator overhead (0 on a GPU backend). */
  heap_overhead_gib: number;
}

const GIB = 1024 ** 3;
const round = (bytes: number) => Math.round((bytes / GIB) * 1000) / 1000;

/** The wizard's memory estimate for a model folder and the run's settings (defaults as the run config's). */
export function estimateMemory(input: unknown, backend: BackendName): MemoryEstimateResult {
  const model = requiredString(input, 'model');
  const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
  const full = isRecord(input) && input.full === true;
  const given = isRecord(input) ? input.quantize : undefined;
  if (given !== undefined && !(QUANTIZE_MODES as readonly unknown[]).includes(given)) throw new Error(`input.quantize must be one of ${QUANTIZE_MODES.join(', ')}`);
  const quantize = (given ?? 'none') as Quantize;
  if (full && quantize !== 'none') throw new Error('input.quantize applies to LoRA (a frozen base); full fine-tuning trains every weight in float32');
  if (quantize !== 'none' && !holdsPackedWeights(backend)) throw new Error(`input.quantize needs the wasm or webgpu backend; the ${backend} backend holds every weight in float32`);
  const estimate = estimateTraining({
    shape: modelShapeFromConfig(config),
    full,
    lora_r: optionalNumber(input, 'lora_r') ?? DEFAULT_RUN_CONFIG.lora_r,
    lora_targets: DEFAULT_RUN_CONFIG.lora_targets,
    batch_size: optionalNumber(input, 'batch_size') ?? DEFAULT_RUN_CONFIG.batch_size,
    grad_accum: DEFAULT_RUN_CONFIG.grad_accum,
    max_length: optionalNumber(input, 'max_length') ?? DEFAULT_RUN_CONFIG.max_length,
    steps: 1,
    backend,
    gradient_checkpointing: isRecord(input) && input.gradient_checkpointing === true,
    quantize,
  });
  return {
    model, full, quantize, total_parameters: estimate.total_parameters, trainable_parameters: estimate.trainable_parameters,
    total_gib: round(estimate.total_bytes), weights_gib: round(estimate.weights_bytes), optimizer_gib: round(estimate.optimizer_bytes), activations_gib: round(estimate.activation_bytes),
    heap_overhead_gib: round(estimate.heap_overhead_bytes),
  };
}
