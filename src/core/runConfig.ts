// The full description of a training run: what `ftune train` accepts, what the extension's wizard
// fills in, and what is written to `<out>/run_config.json` so a run can be resumed or compared.

import { BEST_METRICS, type BestMetric } from './bestMetric';
import { DATA_FORMATS, type DataFormat } from './dataFormats';
import { METHOD_IDS, METHODS, type Method, type MethodKnobs } from './methods';
import { METRIC_NAMES, type MetricName } from './metrics';

export { DATA_FORMATS, type DataFormat };

export const SCHEDULES = ['constant', 'linear', 'cosine'] as const;
export const BACKENDS = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export type Schedule = (typeof SCHEDULES)[number];
export type BackendName = (typeof BACKENDS)[number];
/**
 * How the frozen base weights are held (issue 18): 'none' keeps them as the checkpoint stores them
 * (BF16 / F16 stay 16-bit), 'int8' (per-row scale) and 'nf4' (bitsandbytes NF4, blocks of 64) quantize
 * the decoder layers' projections. Trainable weights, optimizer state and activations stay float32.
 */
export const QUANTIZE_MODES = ['none', 'int8', 'nf4'] as const;
export type Quantize = (typeof QUANTIZE_MODES)[number];

/**
 * The base precisions a LoRA run can pick, as a person reads them: the wizard's choices, the Runs and
 * Checkpoints views and the loss panel. A preset picks the most exact one that fits its memory
 * (core/estimate.ts precisionThatFits): 4-bit only where only 4-bit fits.
 */
export const PRECISIONS: readonly { quantize: Quantize; label: string; description: string }[] = [
  { quantize: 'none', label: '16-bit (as stored)', description: 'the checkpoint\'s own BF16 / F16 weights: exact' },
  { quantize: 'int8', label: '8-bit (int8)', description: 'per-row int8: half the memory of 16-bit, nearly the same results' },
  { quantize: 'nf4', label: '4-bit (NF4, QLoRA)', description: 'bitsandbytes NF4: a quarter of 16-bit, for bases that do not fit otherwise' },
];

/**
 * Backends without kernels for packed weights: they widen 16-bit frozen weights to float32 and cannot
 * hold a quantized base (the engine refuses one there).
 */
const WIDENING_BACKENDS: readonly BackendName[] = ['tensorflow', 'cpu'];

/** Whether `backend` holds frozen weights packed (16-bit as stored, int8, nf4). */
export function holdsPackedWeights(backend: BackendName): boolean {
  return !WIDENING_BACKENDS.includes(backend);
}

export function describePrecision(quantize: Quantize): string {
  return PRECISIONS.find((p) => p.quantize === quantize)?.label ?? quantize;
}

/**
 * How a run holds its base weights, for tooltips: "4-bit (NF4, QLoRA)", "16-bit (as stored)"; full
 * fine-tuning has no frozen base (every weight trains in float32).
 */
export function basePrecision(config: Pick<RunConfig, 'full' | 'quantize'>): string {
  return config.full ? 'float32, every weight trained (full fine-tuning)' : describePrecision(config.quantize);
}

/**
 * A quantized base in two words for descriptions and headers ("nf4 base", "int8 base"); undefined for a
 * base held as stored (the default needs no mark) and for full fine-tuning.
 */
export function quantizedBaseTag(config: Pick<RunConfig, 'full' | 'quantize'>): string | undefined {
  return config.full || config.quantize === 'none' ? undefined : `${config.quantize} base`;
}

export interface RunConfig {
  method: Method;
  model: string;
  data: string;
  out: string;
  eval_data?: string;
  /** fraction of the training file held out for evaluation when no eval_data is given (0 = none). */
  eval_split: number;
  format: DataFormat;
  /** column mapping, e.g. { prompt: 'question', completion: 'answer' }. */
  fields: Record<string, string>;
  lora_r: number;
  lora_alpha: number;
  lora_dropout: number;
  /** 'all-linear' or explicit module names (q_proj, v_proj, ...). */
  lora_targets: string[] | 'all-linear';
  full: boolean;
  /** how the frozen base weights are held (LoRA only: with --full every weight trains in float32). */
  quantize: Quantize;
  init_adapter?: string;
  epochs: number;
  /** when > 0, overrides epochs. */
  max_steps: number;
  batch_size: number;
  grad_accum: number;
  lr: number;
  weight_decay: number;
  adam_beta1: number;
  adam_beta2: number;
  adam_eps: number;
  /** 0 = no clipping. */
  max_grad_norm: number;
  schedule: Schedule;
  warmup_steps: number;
  max_length: number;
  /** 0 = all examples. */
  limit: number;
  shuffle: boolean;
  seed: number;
  /** 0 = only at the end. */
  eval_every: number;
  /** 0 = only at the end. */
  save_every: number;
  backend: BackendName;
  /** method-specific knobs. */
  beta: number;
  neftune_alpha: number;
  gradient_checkpointing: boolean;
  /** FILE:ratio entries for multitask mixing: general data making up `ratio` of the training mix. */
  mix: string[];
  /** GRPO: completions sampled per prompt, their length cap and sampling temperature. */
  num_generations: number;
  max_completion_length: number;
  temperature: number;
  /** GRPO reward: 'exact-match', 'format', 'exact-match+format', or a reward adapter folder (--method reward output). */
  reward: string;
  // ---- evaluate while training (issue 19). Optional: run_config.json files written before have none;
  // evalDuringTrainingOptions() below gives their defaults.
  /** generation metrics computed at every evaluation (--eval-metric, repeatable). */
  eval_metrics?: MetricName[];
  /** --golden: the prompts/references of those metrics (else the eval set). */
  golden?: string;
  /** at most this many examples generated per evaluation. */
  eval_generate_limit?: number;
  /** new tokens per generated answer. */
  eval_max_new_tokens?: number;
  /** which evaluation's weights are kept as <out>/best/. */
  best_metric?: BestMetric;
  /** stop after this many evaluations without improvement (0 = never). */
  early_stopping_patience?: number;
  /** an improvement must exceed this to count for early stopping. */
  early_stopping_threshold?: number;
  /** where metrics are also written: 'tensorboard' → <out>/tensorboard/. */
  report_to?: ReportTarget[];
}

export type ReportTarget = 'tensorboard';
export const REPORT_TARGETS: readonly ReportTarget[] = ['tensorboard'];

/** The evaluate-while-training settings of a config, defaults filled in. */
export function evalDuringTrainingOptions(config: RunConfig): Required<Pick<RunConfig,
  'eval_metrics' | 'eval_generate_limit' | 'eval_max_new_tokens' | 'best_metric' | 'early_stopping_patience' | 'early_stopping_threshold' | 'report_to'
>> & { golden?: string } {
  return {
    eval_metrics: config.eval_metrics ?? [],
    golden: config.golden,
    eval_generate_limit: config.eval_generate_limit ?? 64,
    eval_max_new_tokens: config.eval_max_new_tokens ?? 128,
    best_metric: config.best_metric ?? 'eval_loss',
    early_stopping_patience: config.early_stopping_patience ?? 0,
    early_stopping_threshold: config.early_stopping_threshold ?? 0,
    report_to: config.report_to ?? [],
  };
}

/** The method-specific knobs' defaults, from the method registry (the methods agree where they share one). */
const METHOD_KNOB_DEFAULTS = Object.assign({}, ...METHODS.map((m) => m.defaults)) as MethodKnobs;

export const DEFAULT_RUN_CONFIG: Omit<RunConfig, 'model' | 'data' | 'out'> = {
  method: 'sft',
  eval_split: 0,
  format: 'auto',
  fields: {},
  lora_r: 8,
  lora_alpha: 16,
  lora_dropout: 0.05,
  lora_targets: 'all-linear',
  full: false,
  quantize: 'none',
  epochs: 1,
  max_steps: 0,
  batch_size: 4,
  grad_accum: 1,
  lr: 2e-4,
  weight_decay: 0.0,
  adam_beta1: 0.9,
  adam_beta2: 0.999,
  adam_eps: 1e-8,
  max_grad_norm: 1.0,
  schedule: 'linear',
  warmup_steps: 0,
  max_length: 512,
  limit: 0,
  shuffle: true,
  seed: 42,
  eval_every: 0,
  save_every: 0,
  backend: 'auto',
  beta: METHOD_KNOB_DEFAULTS.beta,
  neftune_alpha: 0,
  gradient_checkpointing: false,
  mix: [],
  num_generations: METHOD_KNOB_DEFAULTS.num_generations,
  max_completion_length: METHOD_KNOB_DEFAULTS.max_completion_length,
  temperature: METHOD_KNOB_DEFAULTS.temperature,
  reward: METHOD_KNOB_DEFAULTS.reward,
};

/** The seven projections LoRA wraps by default ("all-linear" in PEFT terms for Llama-family models). */
export const ALL_LINEAR_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

export function resolveLoraTargets(targets: RunConfig['lora_targets']): string[] {
  return targets === 'all-linear' ? [...ALL_LINEAR_TARGETS] : targets;
}

// ---------------------------------------------------------------- the file format
//
// run_config.json is the train contract: `ftune train` writes it, `ftune train --config FILE` reads it,
// the extension writes it and launches `ftune train --config`. Every key has a kind here; the
// compiler insists that a new RunConfig field gets one, so the reader and the CLI flags cannot drift.

/** How a number is checked, for a run_config.json key and for its `--flag` alike. */
export type NumberRule = 'int' | 'positive-int' | 'nonneg' | 'float';
export type FieldKind = NumberRule | 'string' | 'optional-string' | 'boolean' | 'enum' | 'string-list' | 'string-map' | 'lora-targets'
  | OptionalNumberKind | 'metric-list' | 'best-metric' | 'report-list';
/** Optional numbers have their own flags (they are not turned into `--key-name` by numericRunConfigKeys). */
type OptionalNumberKind = 'optional-int' | 'optional-positive-int' | 'optional-nonneg';

export const RUN_CONFIG_FIELDS: { readonly [K in keyof RunConfig]-?: FieldKind } = {
  method: 'enum', model: 'string', data: 'string', out: 'string', eval_data: 'optional-string', eval_split: 'nonneg',
  format: 'enum', fields: 'string-map', lora_r: 'positive-int', lora_alpha: 'nonneg', lora_dropout: 'nonneg',
  lora_targets: 'lora-targets', full: 'boolean', quantize: 'enum', init_adapter: 'optional-string', epochs: 'nonneg', max_steps: 'int',
  batch_size: 'positive-int', grad_accum: 'positive-int', lr: 'nonneg', weight_decay: 'nonneg', adam_beta1: 'nonneg',
  adam_beta2: 'nonneg', adam_eps: 'nonneg', max_grad_norm: 'nonneg', schedule: 'enum', warmup_steps: 'int',
  max_length: 'positive-int', limit: 'int', shuffle: 'boolean', seed: 'int', eval_every: 'int', save_every: 'int',
  backend: 'enum', beta: 'nonneg', neftune_alpha: 'nonneg', gradient_checkpointing: 'boolean', mix: 'string-list',
  num_generations: 'positive-int', max_completion_length: 'positive-int', temperature: 'nonneg', reward: 'string',
  // evaluate while training: optional keys with their own flags (src/cli/evalArgs.ts)
  eval_metrics: 'metric-list', golden: 'optional-string', eval_generate_limit: 'optional-positive-int',
  eval_max_new_tokens: 'optional-positive-int', best_metric: 'best-metric', early_stopping_patience: 'optional-int',
  early_stopping_threshold: 'optional-nonneg', report_to: 'report-list',
};

/** The allowed values of the enum keys. */
export const RUN_CONFIG_ENUMS: Readonly<Record<'method' | 'format' | 'schedule' | 'backend' | 'quantize', readonly string[]>> = {
  method: METHOD_IDS, format: DATA_FORMATS, schedule: SCHEDULES, backend: BACKENDS, quantize: QUANTIZE_MODES,
};

export type NumericRunConfigKey = { [K in keyof RunConfig]-?: RunConfig[K] extends number ? K : never }[keyof RunConfig];

/** The numeric keys with their rule (the CLI turns each into `--key-name`). */
export function numericRunConfigKeys(): [NumericRunConfigKey, NumberRule][] {
  return (Object.entries(RUN_CONFIG_FIELDS) as [keyof RunConfig, FieldKind][])
    .filter((e): e is [NumericRunConfigKey, NumberRule] => isNumberRule(e[1]));
}

function isNumberRule(kind: FieldKind): kind is NumberRule {
  return kind === 'int' || kind === 'positive-int' || kind === 'nonneg' || kind === 'float';
}

/** undefined when `n` satisfies `rule`; otherwise what it must be ("a positive integer"). */
export function numberProblem(n: unknown, rule: NumberRule): string | undefined {
  const ok = typeof n === 'number' && Number.isFinite(n) &&
    (rule === 'float' || (rule === 'nonneg' && n >= 0) || (rule === 'int' && Number.isInteger(n) && n >= 0) || (rule === 'positive-int' && Number.isInteger(n) && n > 0));
  if (ok) return undefined;
  return rule === 'positive-int' ? 'a positive integer' : rule === 'int' ? 'a non-negative integer' : rule === 'nonneg' ? 'a non-negative number' : 'a number';
}

/** run_config.json text: what `ftune train` and the extension write. */
export function serializeRunConfig(config: RunConfig): string {
  return JSON.stringify(config, null, 2) + '\n';
}

/**
 * A parsed run_config.json checked key by key. Missing keys take their defaults (a config from an
 * older version, or one written by hand with only what differs); model/data/out default to '' and are
 * required by `ftune train` after its flags are applied. Unknown keys are an error: a typo such as
 * "lora_rank" must not silently train with the default. Errors read `SOURCE: key: reason`.
 */
export function parseRunConfig(value: unknown, source: string): RunConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${source}: expected a JSON object`);
  const input = value as Record<string, unknown>;
  const config: Record<string, unknown> = { ...DEFAULT_RUN_CONFIG, model: '', data: '', out: '' };
  for (const [key, raw] of Object.entries(input)) {
    const kind = (RUN_CONFIG_FIELDS as Record<string, FieldKind | undefined>)[key];
    if (kind === undefined) throw new Error(`${source}: unknown key ${JSON.stringify(key)}`);
    const problem = fieldProblem(key, kind, raw);
    if (problem) throw new Error(`${source}: ${key}: ${problem}, got ${JSON.stringify(raw)}`);
    if (raw === undefined || (raw === null && kind === 'optional-string')) continue;
    config[key] = raw;
  }
  return config as unknown as RunConfig;
}

function fieldProblem(key: string, kind: FieldKind, raw: unknown): string | undefined {
  const isStringList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  switch (kind) {
    case 'string':
      return typeof raw === 'string' ? undefined : 'must be a string';
    case 'optional-string':
      return raw === null || typeof raw === 'string' ? undefined : 'must be a string';
    case 'boolean':
      return typeof raw === 'boolean' ? undefined : 'must be true or false';
    case 'enum': {
      const allowed = RUN_CONFIG_ENUMS[key as keyof typeof RUN_CONFIG_ENUMS];
      return typeof raw === 'string' && allowed.includes(raw) ? undefined : `must be one of ${allowed.join(', ')}`;
    }
    case 'string-list':
      return isStringList(raw) ? undefined : 'must be a list of strings';
    case 'string-map':
      return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.values(raw).every((v) => typeof v === 'string')
        ? undefined : 'must be an object of strings';
    case 'lora-targets':
      return raw === 'all-linear' || isStringList(raw) ? undefined : 'must be "all-linear" or a list of module names';
    case 'metric-list':
      return isStringList(raw) && (raw as string[]).every((m) => (METRIC_NAMES as readonly string[]).includes(m)) ? undefined : `must be a list of ${METRIC_NAMES.join(', ')}`;
    case 'report-list':
      return isStringList(raw) && (raw as string[]).every((r) => (REPORT_TARGETS as readonly string[]).includes(r)) ? undefined : `must be a list of ${REPORT_TARGETS.join(', ')}`;
    case 'best-metric':
      return typeof raw === 'string' && (BEST_METRICS as readonly string[]).includes(raw) ? undefined : `must be one of ${BEST_METRICS.join(', ')}`;
    case 'optional-int':
    case 'optional-positive-int':
    case 'optional-nonneg': {
      const problem = numberProblem(raw, kind.slice('optional-'.length) as NumberRule);
      return problem ? `must be ${problem}` : undefined;
    }
    default: {
      const problem = numberProblem(raw, kind);
      return problem ? `must be ${problem}` : undefined;
    }
  }
}
