// Command-line parsing for `ftune`, on node:util's parseArgs. Numbers are checked here so a typo
// fails before a model is loaded.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  BACKENDS as BACKEND_NAMES, DATA_FORMATS, DEFAULT_RUN_CONFIG, holdsPackedWeights, numberProblem, numericRunConfigKeys, RUN_CONFIG_ENUMS, RUN_CONFIG_FIELDS,
  QUANTIZE_MODES, type BackendName, type DataFormat, type FieldKind, type NumberRule, type Quantize, type RunConfig,
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

/**
 * Run-config keys whose `ftune train` flag is not `--key-name` taking the value as it is: `--no-shuffle`,
 * `--field k=v` (DATA_OPTIONS), and `--golden` with the other evaluate-while-training flags (evalArgs.ts).
 */
const KEYS_WITH_FLAGS_OF_THEIR_OWN: ReadonlySet<keyof RunConfig> = new Set<keyof RunConfig>(['shuffle', 'fields', 'golden']);

/**
 * What `--key-name` takes, by the key's kind in runConfig.ts: a value (numbers, enums, strings, LoRA
 * targets), a switch (booleans) or a repeatable value (lists). The kinds left out have flags of their own.
 */
const FLAG_OF_KIND: Partial<Record<FieldKind, Options[string]>> = {
  int: { type: 'string' }, 'positive-int': { type: 'string' }, nonneg: { type: 'string' }, float: { type: 'string' },
  enum: { type: 'string' }, string: { type: 'string' }, 'optional-string': { type: 'string' }, 'lora-targets': { type: 'string' },
  boolean: { type: 'boolean' }, 'string-list': { type: 'string', multiple: true },
};

/** The run-config keys of these kinds that are set by `--key-name` (RUN_CONFIG_FIELDS order). */
function keysWithFlags(...kinds: FieldKind[]): (keyof RunConfig)[] {
  return (Object.entries(RUN_CONFIG_FIELDS) as [keyof RunConfig, FieldKind][])
    .filter(([key, kind]) => kinds.includes(kind) && FLAG_OF_KIND[kind] !== undefined && !KEYS_WITH_FLAGS_OF_THEIR_OWN.has(key))
    .map(([key]) => key);
}

/**
 * The flags of `ftune train`: one per run setting, made from RUN_CONFIG_FIELDS (a new setting gets its
 * flag there), and those that are not settings. The evaluate-while-training ones are in evalArgs.ts.
 */
export const TRAIN_OPTIONS: Options = {
  ...Object.fromEntries(keysWithFlags(...(Object.keys(FLAG_OF_KIND) as FieldKind[])).map((key) => [flagOf(key), FLAG_OF_KIND[RUN_CONFIG_FIELDS[key]]!])),
  ...DATA_OPTIONS,
  'no-shuffle': { type: 'boolean' },
  config: { type: 'string' },
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
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
  const set = config as unknown as Record<keyof RunConfig, unknown>;
  for (const key of keysWithFlags('enum')) set[key] = oneOf(values, flagOf(key), RUN_CONFIG_ENUMS[key as keyof typeof RUN_CONFIG_ENUMS], d[key] as string);
  for (const key of keysWithFlags('string', 'optional-string')) {
    const given = str(values, flagOf(key));
    if (given !== undefined) set[key] = given;
  }
  for (const key of keysWithFlags('boolean')) if (values[flagOf(key)] === true) set[key] = true;
  for (const key of keysWithFlags('string-list')) {
    const given = values[flagOf(key)];
    if (Array.isArray(given)) set[key] = given;
  }
  if (values.field !== undefined) config.fields = fields(values);
  const targets = str(values, 'lora-targets');
  if (targets !== undefined) config.lora_targets = targets === 'all-linear' ? 'all-linear' : targets.split(',').map((t) => t.trim()).filter(Boolean);
  if (values['no-shuffle'] === true) config.shuffle = false;
  for (const m of config.mix) {
    if (!/^.+:(0(\.\d+)?|\.\d+)$/.test(m)) throw new UsageError(`--mix expects FILE:RATIO with 0 <= RATIO < 1, got ${JSON.stringify(m)}`);
  }
  if (!config.model) throw new UsageError('--model is required');
  if (!config.data) throw new UsageError('--data is required');
  if (!config.out) throw new UsageError('--out is required');
  if (config.full && config.init_adapter) throw new UsageError('--init-adapter applies to LoRA training, not --full');
  // A quantized base is frozen by definition; full fine-tuning trains every weight in float32.
  if (config.full && config.quantize !== 'none') throw new UsageError(`--quantize ${config.quantize} quantizes the frozen base of LoRA training; --full trains every weight in float32 (drop one of them)`);
  if (config.quantize !== 'none' && !holdsPackedWeights(config.backend)) {
    throw new UsageError(`--quantize ${config.quantize} needs kernels for packed weights (--backend wasm or webgpu); --backend ${config.backend} holds every weight in float32`);
  }
  // DPO, reward and GRPO compare against the base with the adapter switched off: LoRA only.
  if (config.full && methodSpec(config.method).lora_only) throw new UsageError(`--method ${config.method} trains a LoRA adapter (its reference is the adapter-off base); drop --full`);
  return config;
}
