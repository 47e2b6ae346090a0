// The pure half of "Export…" on a checkpoint: the targets offered, the default output folder and the
// `ftune export` arguments for each target. No VS Code imports, so it is unit-tested with plain node.

import * as path from 'path';
import type { ExportResult } from '../core/protocol';

export type ExportChoiceId = 'peft' | 'merged' | 'gguf-f16' | 'gguf-q8_0' | 'trl';

export interface ExportChoice {
  id: ExportChoiceId;
  label: string;
  detail: string;
  /** a full-weights checkpoint has no adapter to export as PEFT files. */
  needsAdapter: boolean;
}

export const EXPORT_CHOICES: readonly ExportChoice[] = [
  { id: 'peft', label: 'PEFT adapter', detail: 'adapter_model.safetensors + adapter_config.json + model card (transformers/PEFT, vLLM, the Hub)', needsAdapter: true },
  { id: 'merged', label: 'Merged Hugging Face folder', detail: 'the adapter fused into the base weights: a plain transformers model folder', needsAdapter: false },
  { id: 'gguf-f16', label: 'GGUF f16', detail: 'one GGUF file for llama.cpp / LM Studio / Ollama, 16-bit weights, with an Ollama Modelfile', needsAdapter: false },
  { id: 'gguf-q8_0', label: 'GGUF q8_0 + Ollama Modelfile', detail: '8-bit quantised GGUF (about half the size of f16) and a Modelfile for `ollama create`', needsAdapter: false },
  { id: 'trl', label: 'TRL + Accelerate + Axolotl project', detail: 'train.py, accelerate configs and an Axolotl config that re-run this training on a GPU', needsAdapter: false },
];

/** What a checkpoint folder holds: LoRA adapter files or the full model weights (full fine-tuning). */
export type CheckpointWeights = 'adapter' | 'full';

export interface ExportRequest {
  choice: ExportChoiceId;
  /** the checkpoint (or final adapter / model) folder the user right-clicked. */
  checkpointPath: string;
  weights: CheckpointWeights;
  /** the run folder: `--run` makes the CLI use the run's base model and chat template. */
  runDir: string;
  out: string;
}

/** The choices that make sense for a checkpoint with these weights. */
export function exportChoicesFor(weights: CheckpointWeights): ExportChoice[] {
  return EXPORT_CHOICES.filter((c) => weights === 'adapter' || !c.needsAdapter);
}

/** `<runDir>/exports/<target>-step-N` (with `-final` for the final adapter, which may share its step with the last checkpoint). */
export function defaultExportDir(runDir: string, choice: ExportChoiceId, step: number, final: boolean): string {
  return path.join(runDir, 'exports', `${choice}-step-${step}${final ? '-final' : ''}`);
}

/** Arguments after `ftune`: `export --to ... --out ... --run ... --adapter|--model ... [--type ...] --json`. */
export function exportArgs(request: ExportRequest): string[] {
  const to = request.choice === 'gguf-f16' || request.choice === 'gguf-q8_0' ? 'gguf' : request.choice;
  if (to === 'peft' && request.weights !== 'adapter') throw new Error('a full fine-tuning checkpoint has no LoRA adapter to export as PEFT');
  const args = ['export', '--to', to, '--out', request.out, '--run', request.runDir];
  // the checkpoint itself, not the run's final adapter that --run alone would pick
  args.push(request.weights === 'adapter' ? '--adapter' : '--model', request.checkpointPath);
  if (request.choice === 'gguf-f16') args.push('--type', 'f16');
  if (request.choice === 'gguf-q8_0') args.push('--type', 'q8_0');
  args.push('--json'); // the result's notes and warnings reach the message (exportMessage)
  return args;
}

/**
 * The message after a successful export: where it went, then what the CLI says a person should read
 * (e.g. that a QLoRA adapter was merged into the original 16-bit weights) and its warnings.
 */
export function exportMessage(outDir: string, result: ExportResult | undefined): string {
  const facts = [...(result?.notes ?? []), ...(result?.warnings ?? []).map((w) => `warning: ${w}`)].map((f) => f.trim()).filter((f) => f !== '');
  const files = result ? ` (${result.files.length} file${result.files.length === 1 ? '' : 's'})` : '';
  return [`Finetune Studio: Exported to ${outDir}${files}.`, ...facts.map((f) => sentence(f))].join(' ');
}

/** `text` (not empty) capitalised and ending in a full stop. */
function sentence(text: string): string {
  const capitalised = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
