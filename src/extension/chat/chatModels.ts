// The chat models Finetune Studio offers to VS Code's language-model API: every base model that runs
// were trained from, and every checkpoint / final adapter the user opted in with "Use in Chat".
// No vscode import: unit tested.

import * as path from 'path';
import type { ModelRef } from '../../core/protocol';
import type { RunSummary } from '../../core/runStore';

type RunLike = Pick<RunSummary, 'name' | 'model' | 'adapter' | 'checkpoints' | 'full' | 'step'>;

/** Everything VS Code's LanguageModelChatInformation needs, plus what to generate with. */
export interface ChatModelEntry {
  id: string;
  /** "Qwen2.5-0.5B" or "Qwen2.5-0.5B + gsm8k-run (step 600)". */
  name: string;
  /** the base model's folder name: every adapter of one base shares its family. */
  family: string;
  /** "base", or the step of the checkpoint. */
  version: string;
  detail: string;
  tooltip: string;
  maxInputTokens: number;
  maxOutputTokens: number;
  ref: ModelRef;
}

export const baseLabel = (model: string): string => path.basename(model) || model;

/**
 * The entries, bases first. `contextLength(model)` is the base's max_position_embeddings (undefined when
 * its config.json cannot be read: such a model could not be served, so it is left out). A prompt and its
 * answer share the context, so the input gets what `maxOutputTokens` leaves of it.
 */
export function chatModelEntries(
  runs: readonly RunLike[],
  optedIn: ReadonlySet<string>,
  contextLength: (model: string) => number | undefined,
  maxOutputTokens: number,
): ChatModelEntry[] {
  const bases: ChatModelEntry[] = [];
  const adapters: ChatModelEntry[] = [];
  const seenBases = new Set<string>();
  const limits = (model: string) => {
    const context = contextLength(model);
    if (context === undefined) return undefined;
    const output = Math.min(maxOutputTokens, Math.max(1, context - 1));
    return { maxInputTokens: context - output, maxOutputTokens: output };
  };
  for (const run of runs) {
    // a full fine-tune has no adapter to put on a base (the playground leaves them out too)
    if (!run.model || run.full) continue;
    const limit = limits(run.model);
    if (!limit) continue;
    const family = baseLabel(run.model);
    if (!seenBases.has(run.model)) {
      seenBases.add(run.model);
      bases.push({ id: `base:${run.model}`, name: family, family, version: 'base', detail: 'base model', tooltip: run.model, ...limit, ref: { model: run.model } });
    }
    const saved = [...run.checkpoints.map((c) => ({ step: c.step, path: c.path, final: false }))];
    if (run.adapter) saved.push({ step: run.step, path: run.adapter, final: true });
    for (const checkpoint of saved) {
      if (!optedIn.has(checkpoint.path)) continue;
      adapters.push({
        id: `adapter:${checkpoint.path}`,
        name: `${family} + ${run.name} (step ${checkpoint.step})`,
        family,
        version: `step ${checkpoint.step}`,
        detail: checkpoint.final ? 'fine-tuned (final adapter)' : 'fine-tuned (checkpoint)',
        tooltip: `${run.model}\n+ ${checkpoint.path}`,
        ...limit,
        ref: { model: run.model, adapter: checkpoint.path },
      });
    }
  }
  return [...bases, ...adapters];
}

/** A key that changes exactly when the list VS Code shows would change. */
export function entriesKey(entries: readonly ChatModelEntry[]): string {
  return JSON.stringify(entries.map((e) => [e.id, e.name, e.maxInputTokens, e.maxOutputTokens]));
}
