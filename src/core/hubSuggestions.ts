// Small, current instruction models the wizard's "Hub model" step suggests, with their size and
// license, marked by whether they fit the memory of the chosen preset. Any other Hub id stays possible.
// Sizes are the parameter counts of the published checkpoints; the engine trains in float32.

export interface SuggestedModel {
  /** Hugging Face repo id. */
  id: string;
  /** parameters (embeddings included). */
  params: number;
  license: string;
  /** the model_type of its config.json (all supported by the engine). */
  modelType: 'qwen2' | 'qwen3' | 'gemma3_text' | 'llama' | 'phi3';
  /** true when the Hub asks you to accept the license before downloading (a token is then needed). */
  gated: boolean;
}

export const SUGGESTED_HUB_MODELS: readonly SuggestedModel[] = [
  { id: 'google/gemma-3-270m-it', params: 268e6, license: 'Gemma Terms of Use', modelType: 'gemma3_text', gated: true },
  { id: 'HuggingFaceTB/SmolLM2-360M-Instruct', params: 362e6, license: 'Apache-2.0', modelType: 'llama', gated: false },
  { id: 'Qwen/Qwen2.5-0.5B-Instruct', params: 494e6, license: 'Apache-2.0', modelType: 'qwen2', gated: false },
  { id: 'Qwen/Qwen3-0.6B', params: 596e6, license: 'Apache-2.0', modelType: 'qwen3', gated: false },
  { id: 'meta-llama/Llama-3.2-1B-Instruct', params: 1.24e9, license: 'Llama 3.2 Community License', modelType: 'llama', gated: true },
  { id: 'microsoft/Phi-4-mini-instruct', params: 3.84e9, license: 'MIT', modelType: 'phi3', gated: false },
];

/**
 * Memory LoRA training needs for a model of `params` parameters, roughly: float32 weights (4 bytes
 * each) plus a quarter again for activations, LoRA state and the runtime at short sequence lengths.
 */
export function loraMemoryNeed(params: number): number {
  return params * 4 * 1.25;
}

export interface Suggestion extends SuggestedModel {
  needBytes: number;
  fits: boolean;
}

/** The suggestions for a memory budget: those that fit first (smallest first), then the rest. */
export function suggestHubModels(memoryBytes: number, models: readonly SuggestedModel[] = SUGGESTED_HUB_MODELS): Suggestion[] {
  const all = models.map((m) => ({ ...m, needBytes: loraMemoryNeed(m.params), fits: loraMemoryNeed(m.params) <= memoryBytes }));
  return [...all.filter((m) => m.fits), ...all.filter((m) => !m.fits)];
}

/** "0.5B", "268M". */
export function formatParams(params: number): string {
  return params >= 1e9 ? `${(params / 1e9).toFixed(params >= 1e10 ? 0 : 1)}B` : `${Math.round(params / 1e6)}M`;
}
