// Command-line parsing for `ftune`, on node:util's parseArgs. Numbers are checked here so a typo
// fails before a model is loaded.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  BACKENDS as BACKEND_NAMES, DATA_FORMATS, DEFAULT_RUN_CONFIG, numberProblem, numericRunConfigKeys, RUN_CONFIG_ENUMS,
  QUANTIZE_MODES, type BackendName, type DataFormat, type NumberRule, type Quantize, type RunConfig,
} from '../core/runConfig';
import { methodSpec } from '../core/methods';
import { parseFieldArgs, type FieldMap } from '../core/formats';

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

export function number(values: Parsed, key: string, fallback: number, check: NumberRule = 'float'): number {
  const raw = str(values, key);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const problem = numberProblem(n, check);
  if (problem) throw new UsageError(`--${key} must be ${problem}, got ${JSON.stringify(raw)}`);
  return n;
}

function oneOf<T extends string>(values: Parsed, key: string, allowed: readonly T[], fallback: T): T {
  return optionalOneOf(values, key, allowed) ?? fallback;
}

/** The value of `--key`, one of `allowed`, or undefined when the flag is absent. */
export function optionalOneOf<T extends string>(values: Parsed, key: string, allowed: readonly T[]): T | undefined {
  const raw = str(values, key);
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`--${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

/** `--field prompt=question --field completion=answer` → { prompt: 'question', completion: 'answer' }. */
export function fields(values: Parsed): FieldMap {
  const raw = values.field;
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  try {
    return parseFieldArgs(list);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const DATA_OPTIONS: Options = {
  format: { type: 'string' },
  field: { type: 'string', multiple: true },
  'max-length': { type: 'string' },
};

/** `--quantize none|int8|nf4`: how the frozen base weights are held, the same flag on every command that loads a model. */
export const QUANTIZE_OPTIONS: Options = { quantize: { type: 'string' } };
export const QUANTIZE_USAGE = '[--quantize none|int8|nf4]';

/** The `--quantize` given, or undefined when the flag is absent (the caller's default applies: a run's value, else none). */
export function quantizeOption(values: Parsed): Quantize | undefined {
  return str(values, 'quantize') === undefined ? undefined : oneOf(values, 'quantize', QUANTIZE_MODES, 'none');
}

export const TRAIN_OPTIONS: Options = {
  ...DATA_OPTIONS,
  ...QUANTIZE_OPTIONS,
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
  config: { type: 'string' },
};

export const FORMATS: readonly DataFormat[] = DATA_FORMATS;
export const BACKENDS: readonly BackendName[] = BACKEND_NAMES;

export function backendOption(values: Parsed): BackendName {
  return oneOf(values, 'backend', BACKENDS, 'auto');
}

export function formatOption(values: Parsed): DataFormat {
  return oneOf(values, 'format', FORMATS, 'auto');
}

/** `lora_targets` → `--lora-targets`: every run-config key has the flag of the same name. */
export function flagOf(key: string): string {
  return key.replace(/_/g, '-');
}

/**
 * Builds a RunConfig from flags. `base` supplies the values of flags that were not given (the defaults,
 * a `--config` file, or a resumed run's saved config). Numbers and enums are checked by the rules of
 * runConfig.ts, the same ones that check a run_config.json.
 */
export function runConfigFromArgs(values: Parsed, base?: RunConfig): RunConfig {
  const d = base ?? { ...DEFAULT_RUN_CONFIG, model: '', data: '', out: '' };
  if (str(values, 'epochs') !== undefined && str(values, 'max-steps') !== undefined) throw new UsageError('give either --epochs or --max-steps, not both');
  const config: RunConfig = { ...d };
  for (const [key, rule] of numericRunConfigKeys()) config[key] = number(values, flagOf(key), d[key], rule);
  // --epochs and --max-steps replace each other: max_steps > 0 overrides epochs.
  if (str(values, 'max-steps') !== undefined) config.epochs = d.epochs;
  if (str(values, 'epochs') !== undefined) config.max_steps = 0;
  const enumOf = <K extends keyof typeof RUN_CONFIG_ENUMS>(key: K): RunConfig[K] => oneOf(values, key, RUN_CONFIG_ENUMS[key], d[key] as string) as RunConfig[K];
  config.method = enumOf('method');
  config.format = enumOf('format');
  config.schedule = enumOf('schedule');
  config.backend = enumOf('backend');
  config.quantize = enumOf('quantize');
  for (const key of ['model', 'data', 'out', 'eval_data', 'init_adapter', 'reward'] as const) {
    const given = str(values, flagOf(key));
    if (given !== undefined) config[key] = given;
  }
  if (values.field !== undefined) config.fields = fields(values);
  const targets = str(values, 'lora-targets');
  if (targets !== undefined) config.lora_targets = targets === 'all-linear' ? 'all-linear' : targets.split(',').map((t) => t.trim()).filter(Boolean);
  if (values.full === true) config.full = true;
  if (values['no-shuffle'] === true) config.shuffle = false;
  if (values['gradient-checkpointing'] === true) config.gradient_checkpointing = true;
  if (Array.isArray(values.mix)) config.mix = values.mix;
  for (const m of config.mix) {
    if (!/^.+:(0(\.\d+)?|\.\d+)$/.test(m)) throw new UsageError(`--mix expects FILE:RATIO with 0 <= RATIO < 1, got ${JSON.stringify(m)}`);
  }
  if (!config.model) throw new UsageError('--model is required');
  if (!config.data) throw new UsageError('--data is required');
  if (!config.out) throw new UsageError('--out is required');
  if (config.full && config.init_adapter) throw new UsageError('--init-adapter applies to LoRA training, not --full');
  // A quantized base is frozen by definition; full fine-tuning trains every weight in float32.
  if (config.full && config.quantize !== 'none') throw new UsageError(`--quantize ${config.quantize} quantizes the frozen base of LoRA training; --full trains every weight in float32 (drop one of them)`);
  // DPO, reward and GRPO compare against the base with the adapter switched off: LoRA only.
  if (config.full && methodSpec(config.method).lora_only) throw new UsageError(`--method ${config.method} trains a LoRA adapter (its reference is the adapter-off base); drop --full`);
  return config;
}
