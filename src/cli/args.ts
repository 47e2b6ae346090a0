// Command-line parsing for `ftune`, on node:util's parseArgs. Numbers are checked here so a typo
// fails before a model is loaded.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_RUN_CONFIG, type BackendName, type DataFormat, type RunConfig, type Schedule } from '../core/runConfig';
import type { Method } from '../core/protocol';

export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Parsed = Record<string, string | boolean | string[] | undefined>;

export function parse(argv: string[], options: Options, usage: string): { values: Parsed; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (r.values.help) {
      process.stdout.write(usage + '\n');
      process.exit(0);
    }
    return { values: r.values as Parsed, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}\n${usage}`);
  }
}

export function str(values: Parsed, key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}

export function required(values: Parsed, key: string): string {
  const v = str(values, key);
  if (v === undefined) throw new UsageError(`--${key} is required`);
  return v;
}

export function number(values: Parsed, key: string, fallback: number, check: 'int' | 'positive-int' | 'float' | 'nonneg' = 'float'): number {
  const raw = str(values, key);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const ok =
    Number.isFinite(n) &&
    (check === 'float' ||
      (check === 'nonneg' && n >= 0) ||
      (check === 'int' && Number.isInteger(n) && n >= 0) ||
      (check === 'positive-int' && Number.isInteger(n) && n > 0));
  if (!ok) throw new UsageError(`--${key} must be ${check === 'positive-int' ? 'a positive integer' : check === 'int' ? 'a non-negative integer' : check === 'nonneg' ? 'a non-negative number' : 'a number'}, got ${JSON.stringify(raw)}`);
  return n;
}

function oneOf<T extends string>(values: Parsed, key: string, allowed: readonly T[], fallback: T): T {
  const raw = str(values, key);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`--${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

/** `--field prompt=question --field completion=answer` → { prompt: 'question', completion: 'answer' }. */
export function fields(values: Parsed): Record<string, string> {
  const raw = values.field;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const out: Record<string, string> = {};
  for (const entry of list) {
    const eq = entry.indexOf('=');
    if (eq <= 0 || eq === entry.length - 1) throw new UsageError(`--field expects KEY=COLUMN, got ${JSON.stringify(entry)}`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

export const DATA_OPTIONS: Options = {
  format: { type: 'string' },
  field: { type: 'string', multiple: true },
  'max-length': { type: 'string' },
};

export const TRAIN_OPTIONS: Options = {
  ...DATA_OPTIONS,
  method: { type: 'string' },
  model: { type: 'string' },
  data: { type: 'string' },
  out: { type: 'string' },
  'eval-data': { type: 'string' },
  'eval-split': { type: 'string' },
  'lora-r': { type: 'string' },
  'lora-alpha': { type: 'string' },
  'lora-dropout': { type: 'string' },
  'lora-targets': { type: 'string' },
  full: { type: 'boolean' },
  'init-adapter': { type: 'string' },
  epochs: { type: 'string' },
  'max-steps': { type: 'string' },
  'batch-size': { type: 'string' },
  'grad-accum': { type: 'string' },
  lr: { type: 'string' },
  'weight-decay': { type: 'string' },
  'adam-beta1': { type: 'string' },
  'adam-beta2': { type: 'string' },
  'adam-eps': { type: 'string' },
  'max-grad-norm': { type: 'string' },
  schedule: { type: 'string' },
  'warmup-steps': { type: 'string' },
  limit: { type: 'string' },
  'no-shuffle': { type: 'boolean' },
  seed: { type: 'string' },
  'eval-every': { type: 'string' },
  'save-every': { type: 'string' },
  backend: { type: 'string' },
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
  beta: { type: 'string' },
  'neftune-alpha': { type: 'string' },
  'gradient-checkpointing': { type: 'boolean' },
  mix: { type: 'string', multiple: true },
  'num-generations': { type: 'string' },
  'max-completion-length': { type: 'string' },
  temperature: { type: 'string' },
  reward: { type: 'string' },
};

export const FORMATS: readonly DataFormat[] = ['auto', 'messages', 'prompt-completion', 'text', 'preference'];
export const BACKENDS: readonly BackendName[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];
const METHODS: readonly Method[] = ['sft', 'cpt', 'dpo', 'reward', 'grpo'];
const SCHEDULES: readonly Schedule[] = ['constant', 'linear', 'cosine'];

export function backendOption(values: Parsed): BackendName {
  return oneOf(values, 'backend', BACKENDS, 'auto');
}

export function formatOption(values: Parsed): DataFormat {
  return oneOf(values, 'format', FORMATS, 'auto');
}

/**
 * Builds a RunConfig from flags. `base` supplies the values of flags that were not given (the defaults,
 * or a resumed run's saved config).
 */
export function runConfigFromArgs(values: Parsed, base?: RunConfig): RunConfig {
  const d = base ?? { ...DEFAULT_RUN_CONFIG, model: '', data: '', out: '' };
  const targets = str(values, 'lora-targets');
  const maxSteps = number(values, 'max-steps', d.max_steps, 'int');
  const epochs = number(values, 'epochs', d.epochs, 'nonneg');
  if (str(values, 'epochs') !== undefined && str(values, 'max-steps') !== undefined) throw new UsageError('give either --epochs or --max-steps, not both');
  const config: RunConfig = {
    method: oneOf(values, 'method', METHODS, d.method),
    model: str(values, 'model') ?? d.model,
    data: str(values, 'data') ?? d.data,
    out: str(values, 'out') ?? d.out,
    eval_data: str(values, 'eval-data') ?? d.eval_data,
    eval_split: number(values, 'eval-split', d.eval_split, 'nonneg'),
    format: oneOf(values, 'format', FORMATS, d.format),
    fields: values.field !== undefined ? fields(values) : d.fields,
    lora_r: number(values, 'lora-r', d.lora_r, 'positive-int'),
    lora_alpha: number(values, 'lora-alpha', d.lora_alpha, 'nonneg'),
    lora_dropout: number(values, 'lora-dropout', d.lora_dropout, 'nonneg'),
    lora_targets: targets === undefined ? d.lora_targets : targets === 'all-linear' ? 'all-linear' : targets.split(',').map((t) => t.trim()).filter(Boolean),
    full: values.full === true ? true : d.full,
    init_adapter: str(values, 'init-adapter') ?? d.init_adapter,
    epochs: str(values, 'max-steps') !== undefined ? d.epochs : epochs,
    max_steps: str(values, 'epochs') !== undefined ? 0 : maxSteps,
    batch_size: number(values, 'batch-size', d.batch_size, 'positive-int'),
    grad_accum: number(values, 'grad-accum', d.grad_accum, 'positive-int'),
    lr: number(values, 'lr', d.lr, 'nonneg'),
    weight_decay: number(values, 'weight-decay', d.weight_decay, 'nonneg'),
    adam_beta1: number(values, 'adam-beta1', d.adam_beta1, 'nonneg'),
    adam_beta2: number(values, 'adam-beta2', d.adam_beta2, 'nonneg'),
    adam_eps: number(values, 'adam-eps', d.adam_eps, 'nonneg'),
    max_grad_norm: number(values, 'max-grad-norm', d.max_grad_norm, 'nonneg'),
    schedule: oneOf(values, 'schedule', SCHEDULES, d.schedule),
    warmup_steps: number(values, 'warmup-steps', d.warmup_steps, 'int'),
    max_length: number(values, 'max-length', d.max_length, 'positive-int'),
    limit: number(values, 'limit', d.limit, 'int'),
    shuffle: values['no-shuffle'] === true ? false : d.shuffle,
    seed: number(values, 'seed', d.seed, 'int'),
    eval_every: number(values, 'eval-every', d.eval_every, 'int'),
    save_every: number(values, 'save-every', d.save_every, 'int'),
    backend: oneOf(values, 'backend', BACKENDS, d.backend),
    beta: number(values, 'beta', d.beta, 'nonneg'),
    neftune_alpha: number(values, 'neftune-alpha', d.neftune_alpha, 'nonneg'),
    gradient_checkpointing: values['gradient-checkpointing'] === true ? true : d.gradient_checkpointing,
    mix: Array.isArray(values.mix) ? values.mix : d.mix,
    num_generations: number(values, 'num-generations', d.num_generations, 'positive-int'),
    max_completion_length: number(values, 'max-completion-length', d.max_completion_length, 'positive-int'),
    temperature: number(values, 'temperature', d.temperature, 'nonneg'),
    reward: str(values, 'reward') ?? d.reward,
  };
  for (const m of config.mix) {
    if (!/^.+:(0(\.\d+)?|\.\d+)$/.test(m)) throw new UsageError(`--mix expects FILE:RATIO with 0 <= RATIO < 1, got ${JSON.stringify(m)}`);
  }
  if (!config.model) throw new UsageError('--model is required');
  if (!config.data) throw new UsageError('--data is required');
  if (!config.out) throw new UsageError('--out is required');
  if (config.full && config.init_adapter) throw new UsageError('--init-adapter applies to LoRA training, not --full');
  return config;
}
