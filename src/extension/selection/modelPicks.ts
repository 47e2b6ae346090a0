// What "Run Selection on Models…" and the other pickers offer: each base model, and each checkpoint /
// final adapter trained from it, as one flat list with stable keys (for remembering the last picks).
// No vscode import: unit tested.

import type { DecodingOptions, ModelChoice, ModelRef } from '../../core/protocol';

export interface ModelPick {
  key: string;
  label: string;
  description: string;
  ref: ModelRef;
}

export const refKey = (ref: ModelRef): string => `${ref.model}\n${ref.adapter ?? ''}`;

export function modelPicks(choices: readonly ModelChoice[]): ModelPick[] {
  const picks: ModelPick[] = [];
  for (const choice of choices) {
    picks.push({ key: refKey({ model: choice.model }), label: choice.label, description: 'base model', ref: { model: choice.model } });
    for (const adapter of choice.adapters) {
      const ref = { model: choice.model, adapter: adapter.path };
      picks.push({ key: refKey(ref), label: `${choice.label} + ${adapter.label}`, description: adapter.path, ref });
    }
  }
  return picks;
}

/** The remembered picks that still exist; the first base model when none does. */
export function defaultPicks(picks: readonly ModelPick[], remembered: readonly string[]): ModelPick[] {
  const kept = picks.filter((p) => remembered.includes(p.key));
  if (kept.length > 0) return kept;
  return picks.slice(0, 1);
}

export const DEFAULT_DECODING: DecodingOptions = { max_new_tokens: 256, greedy: true, stop: true };

export function describeDecoding(options: DecodingOptions): string {
  const sampling = options.greedy ? 'greedy' : `sampling (temperature ${options.temperature ?? 1}, top-p ${options.top_p ?? 1}, top-k ${options.top_k ?? 0}, seed ${options.seed ?? 0})`;
  return `${sampling}, at most ${options.max_new_tokens} new tokens${options.stop ? '' : ', no stop at end-of-sequence'}`;
}
