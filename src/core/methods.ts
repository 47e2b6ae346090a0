// The training methods, in one registry: everything the CLI, the wizard, validation, the Runs view and
// the loss panel need to know about a method. Adding a method means an entry here plus its plan in
// src/engine/methods.ts (data, objective, evaluation). Browser-safe: the webviews read it too.

import type { RecordFormat } from './dataFormats';

export const METHOD_IDS = ['sft', 'cpt', 'dpo', 'reward', 'grpo'] as const;
export type Method = (typeof METHOD_IDS)[number];

/** The method-specific knobs of a run configuration (their defaults live in the registry). */
export interface MethodKnobs {
  beta: number;
  num_generations: number;
  max_completion_length: number;
  temperature: number;
  reward: string;
}

export interface MethodSpec {
  id: Method;
  label: string;
  /** one line for pickers: what the method learns from. */
  description: string;
  /** data formats it trains on, the preferred first. */
  formats: readonly RecordFormat[];
  /** trains a LoRA adapter only: its reference model is the base with the adapter switched off. */
  lora_only: boolean;
  /** `beta` matters (DPO's preference strength, GRPO's KL weight). */
  uses_beta: boolean;
  /** samples completions while training (num_generations, max_completion_length, temperature, reward). */
  uses_generation: boolean;
  /** the metric that tells how the run is doing besides the loss: its key in step/eval `extra` and a short label. */
  headline?: { key: string; label: string };
  /** the values of its own knobs when a run does not set them. */
  defaults: Partial<MethodKnobs>;
}

export const METHODS: readonly MethodSpec[] = [
  {
    id: 'sft', label: 'Supervised fine-tuning (SFT)', description: 'learn to answer: chat messages or prompt → completion pairs',
    formats: ['messages', 'prompt-completion', 'text'], lora_only: false, uses_beta: false, uses_generation: false, defaults: {},
  },
  {
    id: 'cpt', label: 'Continued pre-training', description: 'plain text, next-token loss on everything',
    formats: ['text'], lora_only: false, uses_beta: false, uses_generation: false, defaults: {},
  },
  {
    id: 'dpo', label: 'Direct preference optimisation (DPO)', description: 'prompt + chosen / rejected pairs',
    formats: ['preference'], lora_only: true, uses_beta: true, uses_generation: false,
    headline: { key: 'rewards/accuracies', label: 'reward acc' }, defaults: { beta: 0.1 },
  },
  {
    id: 'reward', label: 'Reward model', description: 'score chosen above rejected (RLHF step 1)',
    formats: ['preference'], lora_only: true, uses_beta: false, uses_generation: false,
    headline: { key: 'accuracy', label: 'acc' }, defaults: {},
  },
  {
    id: 'grpo', label: 'GRPO (RLHF step 2)', description: 'reinforcement learning from verifiable answers (#### n) or a reward model',
    formats: ['prompt-completion', 'messages'], lora_only: true, uses_beta: true, uses_generation: true,
    headline: { key: 'reward', label: 'reward' },
    defaults: { beta: 0.1, num_generations: 4, max_completion_length: 64, temperature: 1.0, reward: 'exact-match' },
  },
];

export function isMethod(value: unknown): value is Method {
  return typeof value === 'string' && (METHOD_IDS as readonly string[]).includes(value);
}

export function methodSpec(id: Method): MethodSpec {
  const spec = METHODS.find((m) => m.id === id);
  if (!spec) throw new Error(`unknown method ${id}`);
  return spec;
}

/** "accepts messages or prompt-completion" style check; undefined when `format` suits the method. */
export function methodFormatProblem(id: Method, format: RecordFormat): string | undefined {
  const spec = methodSpec(id);
  return spec.formats.includes(format) ? undefined : `--method ${id} trains on ${spec.formats.join(' or ')} data, not ${format}`;
}
