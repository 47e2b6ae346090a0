// Hardware presets: one click fills the knobs that decide memory and speed. Numbers follow common
// LoRA practice (effective batch 8–16, lr 2e-4 for LoRA, 10× lower for full fine-tuning).

import type { BackendName, RunConfig } from '../core/runConfig';

export type PresetId = 'cpu-small' | 'gpu-8gb' | 'gpu-24gb';

export type PresetFields = Pick<RunConfig, 'batch_size' | 'grad_accum' | 'max_length' | 'lr' | 'epochs'>;

export interface Preset {
  id: PresetId;
  label: string;
  description: string;
  /** the backend this preset is meant for ('auto' picks the best available). */
  backend: BackendName;
  lora: PresetFields;
}

export const PRESETS: readonly Preset[] = [
  {
    id: 'cpu-small',
    label: 'CPU (small)',
    description: 'laptop without a GPU: short sequences, batch 1 with accumulation',
    backend: 'auto',
    lora: { batch_size: 1, grad_accum: 8, max_length: 256, lr: 2e-4, epochs: 1 },
  },
  {
    id: 'gpu-8gb',
    label: 'GPU 8 GB',
    description: 'consumer GPU: batch 4 with accumulation, 512 tokens',
    backend: 'auto',
    lora: { batch_size: 4, grad_accum: 4, max_length: 512, lr: 2e-4, epochs: 2 },
  },
  {
    id: 'gpu-24gb',
    label: 'GPU 24 GB+',
    description: 'workstation GPU: batch 8, 1024 tokens',
    backend: 'auto',
    lora: { batch_size: 8, grad_accum: 2, max_length: 1024, lr: 2e-4, epochs: 3 },
  },
];

/** Full fine-tuning updates every weight: a 10× smaller learning rate keeps it stable. */
const FULL_LR_FACTOR = 0.1;

export function presetFields(id: PresetId, full: boolean): PresetFields {
  const preset = PRESETS.find((p) => p.id === id);
  if (!preset) throw new Error(`unknown preset ${id}`);
  return full ? { ...preset.lora, lr: preset.lora.lr * FULL_LR_FACTOR } : { ...preset.lora };
}

/** Applies a preset to a configuration without touching anything else. */
export function applyPreset<T extends PresetFields & { full: boolean }>(config: T, id: PresetId): T {
  return { ...config, ...presetFields(id, config.full) };
}

/** The fields a person may edit after picking a preset, with their parsers (the wizard's "edit" step). */
export interface EditableField {
  key: keyof PresetFields | 'max_steps' | 'eval_split' | 'beta' | 'num_generations' | 'max_completion_length' | 'temperature';
  label: string;
  /** shown only for methods that use it (core/methods.ts: uses_beta / uses_generation). */
  only?: 'beta' | 'generation';
  integer: boolean;
  min: number;
  /** exclusive upper bound, when there is one. */
  below?: number;
}

export const EDITABLE_FIELDS: readonly EditableField[] = [
  { key: 'batch_size', label: 'Batch size', integer: true, min: 1 },
  { key: 'grad_accum', label: 'Gradient accumulation steps', integer: true, min: 1 },
  { key: 'max_length', label: 'Max sequence length (tokens)', integer: true, min: 8 },
  { key: 'lr', label: 'Learning rate', integer: false, min: 0 },
  { key: 'epochs', label: 'Epochs', integer: false, min: 0 },
  { key: 'max_steps', label: 'Max steps (0 = use epochs)', integer: true, min: 0 },
  { key: 'eval_split', label: 'Held-out eval fraction (0 = no eval)', integer: false, min: 0, below: 1 },
  { key: 'beta', label: 'Beta (strength of the pull towards the base model)', integer: false, min: 0, only: 'beta' },
  { key: 'num_generations', label: 'Completions sampled per prompt', integer: true, min: 1, only: 'generation' },
  { key: 'max_completion_length', label: 'Max completion length (tokens)', integer: true, min: 1, only: 'generation' },
  { key: 'temperature', label: 'Sampling temperature', integer: false, min: 0, only: 'generation' },
];

/** Parses a typed value for an editable field; returns an error message or the number. */
export function parseFieldValue(field: EditableField, text: string): number | string {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value)) return `${field.label}: enter a number`;
  if (field.integer && !Number.isInteger(value)) return `${field.label}: enter a whole number`;
  if (value < field.min) return `${field.label}: must be at least ${field.min}`;
  if (field.below !== undefined && value >= field.below) return `${field.label}: must be below ${field.below}`;
  if (field.key === 'lr' && value <= 0) return 'Learning rate: must be greater than 0';
  return value;
}
