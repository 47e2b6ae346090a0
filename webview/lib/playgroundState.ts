// Pure state helpers of the playground webview: the persisted state's shape and defaults, the model
// choices shown in each column's dropdown, and the messages each column sends for a chat turn.

import type { ChatMessage, DecodingOptions, GoldenExampleResult, ModelChoice, ModelRef, PlaygroundMode } from '../../src/core/protocol';

export interface ColumnState {
  id: string;
  /** empty until a model is chosen. */
  model: string;
  adapter?: string;
}

export interface DecodingState {
  greedy: boolean;
  temperature: number;
  top_p: number;
  top_k: number;
  seed: number;
  max_new_tokens: number;
}

export interface GoldenColumnResult {
  correct: number;
  total: number;
  done: boolean;
  examples: GoldenExampleResult[];
}

export interface PlaygroundState {
  mode: PlaygroundMode;
  system: string;
  draft: string;
  columns: ColumnState[];
  /** chat: the user turns (shared by all columns). */
  user_turns: string[];
  /** chat: each column's replies, index-aligned with user_turns. */
  replies: Record<string, string[]>;
  /** raw completion: the last prompt and each column's completion of it. */
  raw_prompt: string;
  raw_outputs: Record<string, string>;
  decoding: DecodingState;
  /** model folders picked by hand (besides the host's choices). */
  extra_models: string[];
  golden: { file: string; count: number; results: Record<string, GoldenColumnResult> };
}

export const DEFAULT_DECODING: DecodingState = {
  greedy: true,
  temperature: 0.7,
  top_p: 0.95,
  top_k: 50,
  seed: 0,
  max_new_tokens: 128,
};

export function defaultPlaygroundState(): PlaygroundState {
  return {
    mode: 'chat',
    system: '',
    draft: '',
    columns: [],
    user_turns: [],
    replies: {},
    raw_prompt: '',
    raw_outputs: {},
    decoding: { ...DEFAULT_DECODING },
    extra_models: [],
    golden: { file: '', count: 20, results: {} },
  };
}

/** A saved state merged over the defaults, so a state from an older version still loads. */
export function restorePlaygroundState(saved: unknown): PlaygroundState {
  const state = defaultPlaygroundState();
  if (typeof saved !== 'object' || saved === null) return state;
  const s = saved as Partial<PlaygroundState>;
  if (s.mode === 'chat' || s.mode === 'raw') state.mode = s.mode;
  if (typeof s.system === 'string') state.system = s.system;
  if (typeof s.draft === 'string') state.draft = s.draft;
  if (Array.isArray(s.columns)) {
    state.columns = s.columns.filter((c): c is ColumnState => typeof c?.id === 'string' && typeof c.model === 'string');
  }
  if (Array.isArray(s.user_turns)) state.user_turns = s.user_turns.filter((t): t is string => typeof t === 'string');
  if (typeof s.replies === 'object' && s.replies !== null) state.replies = s.replies;
  if (typeof s.raw_prompt === 'string') state.raw_prompt = s.raw_prompt;
  if (typeof s.raw_outputs === 'object' && s.raw_outputs !== null) state.raw_outputs = s.raw_outputs;
  if (typeof s.decoding === 'object' && s.decoding !== null) state.decoding = { ...DEFAULT_DECODING, ...s.decoding };
  if (Array.isArray(s.extra_models)) state.extra_models = s.extra_models.filter((m): m is string => typeof m === 'string');
  if (typeof s.golden === 'object' && s.golden !== null) state.golden = { ...state.golden, ...s.golden };
  return state;
}

/** Dropdown value of a model reference (the dropdown holds strings). */
export function refKey(ref: ModelRef): string {
  return JSON.stringify([ref.model, ref.adapter ?? null]);
}

export function refFromKey(key: string): ModelRef | undefined {
  try {
    const value: unknown = JSON.parse(key);
    if (!Array.isArray(value) || typeof value[0] !== 'string' || value[0] === '') return undefined;
    return typeof value[1] === 'string' ? { model: value[0], adapter: value[1] } : { model: value[0] };
  } catch {
    return undefined;
  }
}

function baseName(p: string): string {
  const parts = p.split(/[\\/]/).filter((x) => x !== '');
  return parts[parts.length - 1] ?? p;
}

/**
 * Every (model, adapter) a column can select: each base model alone, then with each of its adapters.
 * Hand-picked models and the column's own current selection (say, restored after a reload whose run
 * list changed) are always included, so a dropdown never silently switches model.
 */
export function columnChoices(choices: readonly ModelChoice[], extraModels: readonly string[], current?: ModelRef): { value: string; label: string }[] {
  const out: { value: string; label: string }[] = [];
  const seen = new Set<string>();
  const add = (ref: ModelRef, label: string): void => {
    const key = refKey(ref);
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ value: key, label });
  };
  for (const choice of choices) {
    add({ model: choice.model }, `${choice.label} (base)`);
    for (const adapter of choice.adapters) add({ model: choice.model, adapter: adapter.path }, `${choice.label} + ${adapter.label}`);
  }
  for (const model of extraModels) add({ model }, `${baseName(model)} (base)`);
  if (current && current.model !== '') {
    add(current, current.adapter ? `${baseName(current.model)} + ${baseName(current.adapter)}` : `${baseName(current.model)} (base)`);
  }
  return out;
}

/** The conversation a chat column continues: system, earlier turns with its own replies, the new turn. */
export function chatMessages(system: string, userTurns: readonly string[], replies: readonly string[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (system.trim() !== '') messages.push({ role: 'system', content: system });
  userTurns.forEach((turn, i) => {
    messages.push({ role: 'user', content: turn });
    if (i < userTurns.length - 1) messages.push({ role: 'assistant', content: replies[i] ?? '' });
  });
  return messages;
}

/** Decoding options for the server from the (possibly half-typed) form values. */
export function decodingOptions(d: DecodingState): DecodingOptions {
  const maxNew = Math.min(Math.max(Math.floor(d.max_new_tokens) || DEFAULT_DECODING.max_new_tokens, 1), 4096);
  if (d.greedy) return { max_new_tokens: maxNew, greedy: true, stop: true };
  return {
    max_new_tokens: maxNew,
    greedy: false,
    stop: true,
    temperature: Number.isFinite(d.temperature) && d.temperature > 0 ? d.temperature : DEFAULT_DECODING.temperature,
    top_p: Number.isFinite(d.top_p) && d.top_p > 0 && d.top_p <= 1 ? d.top_p : 1,
    top_k: Number.isFinite(d.top_k) && d.top_k >= 0 ? Math.floor(d.top_k) : 0,
    seed: Number.isFinite(d.seed) ? Math.floor(d.seed) : 0,
  };
}
