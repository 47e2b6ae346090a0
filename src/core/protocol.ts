// Every message that crosses a process or webview boundary, in one place.
//
//   trainer (ftune train)   --stdout JSON lines-->   extension host   --postMessage-->   webviews
//   generation server (ftune serve) <--stdin/stdout JSON lines-->  extension host
//
// Each union is discriminated by `type`. Field names use snake_case where they mirror
// Hugging Face Trainer logs (loss, eval_loss, grad_norm, learning rate as `lr`).

import type { RunConfig } from './runConfig';

// ---------------------------------------------------------------- trainer → host

export type Method = 'sft' | 'cpt' | 'dpo' | 'reward' | 'grpo';

/** One optimiser step. `extra` carries method-specific metrics (DPO rewards, GRPO mean reward, ...). */
export interface StepMetrics {
  step: number;
  total_steps: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_second: number;
  tokens_seen: number;
  elapsed: number;
  extra?: Record<string, number>;
}

export interface EvalMetrics {
  step: number;
  eval_loss: number;
  perplexity: number;
  extra?: Record<string, number>;
}

export type TrainerEvent =
  | {
      type: 'started';
      run_id: string;
      method: Method;
      model: string;
      backend: string;
      total_steps: number;
      examples: number;
      skipped: number;
      trainable_parameters: number;
      config: RunConfig;
      resumed_from_step: number;
      time: string;
    }
  | ({ type: 'step' } & StepMetrics)
  | ({ type: 'eval' } & EvalMetrics)
  | { type: 'checkpoint'; step: number; path: string; eval_loss?: number }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  | { type: 'done'; step: number; adapter_path: string; elapsed: number }
  | { type: 'stopped'; step: number; checkpoint?: string }
  | { type: 'failed'; error: string; step?: number; checkpoint?: string };

export type TrainerEventType = TrainerEvent['type'];

const TRAINER_EVENT_TYPES: ReadonlySet<string> = new Set<TrainerEventType>([
  'started', 'step', 'eval', 'checkpoint', 'log', 'done', 'stopped', 'failed',
]);

/** Parses one stdout line of the trainer. Returns undefined for lines that are not protocol events. */
export function parseTrainerEvent(line: string): TrainerEvent | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !TRAINER_EVENT_TYPES.has(type)) return undefined;
  return value as TrainerEvent;
}

// ---------------------------------------------------------------- generation server (ftune serve)

export interface DecodingOptions {
  max_new_tokens: number;
  /** greedy when true; otherwise temperature / top_p / top_k sampling with `seed`. */
  greedy: boolean;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  seed?: number;
  /** stop at the model's eos ids (generation_config.json). */
  stop: boolean;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content: string;
}

/** What a playground column generates with: base model, optionally with a PEFT adapter. */
export interface ModelRef {
  model: string;
  adapter?: string;
}

export type ServeRequest =
  | { type: 'generate'; id: string; ref: ModelRef; prompt?: string; messages?: ChatMessage[]; options: DecodingOptions }
  | { type: 'cancel'; id: string }
  | { type: 'shutdown' };

export type ServeResponse =
  | { type: 'ready'; backend: string }
  | { type: 'token'; id: string; token_id: number; text: string }
  | { type: 'done'; id: string; text: string; token_ids: number[]; prompt_tokens: number; tokens_per_second: number; cancelled: boolean }
  | { type: 'error'; id?: string; message: string };
