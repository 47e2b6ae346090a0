// The full description of a training run: what `ftune train` accepts, what the extension's wizard
// fills in, and what is written to `<out>/run_config.json` so a run can be resumed or compared.

import type { BestMetric } from './bestMetric';
import type { MetricName } from './metrics';
import type { Method } from './protocol';

export type DataFormat = 'auto' | 'messages' | 'prompt-completion' | 'text' | 'preference';
export type Schedule = 'constant' | 'linear' | 'cosine';
export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

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
  beta: 0.1,
  neftune_alpha: 0,
  gradient_checkpointing: false,
  mix: [],
  num_generations: 4,
  max_completion_length: 64,
  temperature: 1.0,
  reward: 'exact-match',
};

/** The seven projections LoRA wraps by default ("all-linear" in PEFT terms for Llama-family models). */
export const ALL_LINEAR_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

export function resolveLoraTargets(targets: RunConfig['lora_targets']): string[] {
  return targets === 'all-linear' ? [...ALL_LINEAR_TARGETS] : targets;
}
