// Every message that crosses a process or webview boundary, in one place.
//
//   trainer (ftune train)   --stdout JSON lines-->   extension host   --postMessage-->   webviews
//   generation server (ftune serve) <--stdin/stdout JSON lines-->  extension host
//
// Each union is discriminated by `type`. Field names use snake_case where they mirror
// Hugging Face Trainer logs (loss, eval_loss, grad_norm, learning rate as `lr`).

import type { RecordFormat } from './dataFormats';
import type { DatasetRecord } from './jsonValue';
import type { Method } from './methods';
import type { BackendName, Quantize, RunConfig } from './runConfig';

/** Defined with the method registry (core/methods.ts); re-exported for older imports. */
export type { Method };

// ---------------------------------------------------------------- trainer → host

/** One backend as `ftune doctor` found it. */
export interface DoctorEntry {
  backend: Exclude<BackendName, 'auto'>;
  ok: boolean;
  device?: string;
  /** computes on a real GPU (not the CPU, not a software emulation of a GPU). */
  gpu?: boolean;
  detail: string;
}

/** What `ftune doctor --json` prints (read by the extension's "Check GPU" command). */
export interface DoctorReport {
  backends: DoctorEntry[];
  /** the backend `--backend auto` (the default) uses here, if any works. */
  auto?: Exclude<BackendName, 'auto'>;
  memory: { total_bytes: number; free_bytes: number; cpus: number };
  /** what to install for a faster backend, when no GPU backend works. */
  advice?: string;
}

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
  /** generation metrics (ftune train --eval-metric), greedy answers scored as `ftune eval` scores them. */
  exact_match?: number;
  bleu?: number;
  rouge_l?: number;
  f1?: number;
  /** how many examples were generated for them, and how long generation took. */
  generation_examples?: number;
  generation_seconds?: number;
}

/** The best evaluation so far (--best-metric): its weights are kept in `path` (<out>/best). */
export interface BestEvaluation {
  metric: 'eval_loss' | 'exact_match' | 'bleu' | 'rouge_l' | 'f1';
  value: number;
  step: number;
  path: string;
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
  | { type: 'done'; step: number; adapter_path: string; elapsed: number; best?: BestEvaluation }
  /** `reason` is set when the trainer stopped by itself (early stopping), not on request. */
  | { type: 'stopped'; step: number; checkpoint?: string; reason?: string; best?: BestEvaluation }
  | { type: 'failed'; error: string; step?: number; checkpoint?: string };

export type TrainerEventType = TrainerEvent['type'];

// One validator reads these lines (stdout and metrics.jsonl): runFileSchemas.ts checkTrainerEventLine.

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
  /** an assistant's reasoning (Qwen3 / DeepSeek-R1 style); the chat template decides where it goes. */
  reasoning_content?: string;
  /** an assistant's function calls (OpenAI / TRL style); arguments always an object here. */
  tool_calls?: ToolCall[];
  /** a tool result's call id and function name, for templates that show them. */
  tool_call_id?: string;
  name?: string;
}

export interface ToolCall {
  type: 'function';
  id?: string;
  function: { name: string; arguments: Record<string, unknown> };
}

/** One entry of a conversation's `tools` list: a JSON schema as OpenAI / TRL write it. */
export type ToolSchema = Record<string, unknown>;

/** What a playground column generates with: base model, optionally with a PEFT adapter. */
export interface ModelRef {
  model: string;
  adapter?: string;
}

export type ServeRequest =
  | { type: 'generate'; id: string; ref: ModelRef; prompt?: string; messages?: ChatMessage[]; tools?: ToolSchema[]; options: DecodingOptions }
  | { type: 'cancel'; id: string }
  | { type: 'shutdown' }
  /** how many tokens `prompt` (or `messages`, through the chat template, no generation prompt) is for this model's tokenizer. */
  | { type: 'count'; id: string; prompt?: string; messages?: ChatMessage[] };

export type ServeResponse =
  | { type: 'ready'; backend: string }
  | { type: 'token'; id: string; token_id: number; text: string }
  | { type: 'done'; id: string; text: string; token_ids: number[]; prompt_tokens: number; tokens_per_second: number; cancelled: boolean }
  | { type: 'error'; id?: string; message: string }
  | { type: 'count'; id: string; tokens: number };

// ---------------------------------------------------------------- host ↔ webviews
//
// postMessage traffic between the extension host and the two webviews (loss panel, playground).
// Messages from a webview are checked with the guards below before the host acts on them: a webview
// is a separate (browser) context, so its messages are treated as untrusted input.

/** x-axis of the loss charts: optimiser steps, or training tokens seen. */
export type LossXAxis = 'step' | 'tokens';

/** Everything the loss panel needs to draw one run. */
export interface LossRunPayload {
  run_dir: string;
  label: string;
  /** the run's run_config.json (null when missing or unreadable). */
  config: RunConfig | null;
  /** history so far (metrics.jsonl); live events follow in `events` messages. */
  events: TrainerEvent[];
}

export type HostToLossPanel =
  | { type: 'init'; runs: LossRunPayload[]; overfit_patience: number }
  | { type: 'events'; run_dir: string; events: TrainerEvent[] }
  | { type: 'exported'; what: 'png' | 'csv'; path?: string; error?: string };

export type LossPanelToHost =
  | { type: 'ready' }
  /** the charts as a PNG `data:` URL; the host asks where to save it. */
  | { type: 'exportPng'; data_url: string }
  /** the metrics of every run shown, as CSV text; the host asks where to save it. */
  | { type: 'exportCsv'; csv: string };

/** A checkpoint or final adapter the playground can load on top of its base model. */
export interface AdapterChoice {
  path: string;
  label: string;
}

/** A base model the playground can load, with the adapters trained from it. */
export interface ModelChoice {
  model: string;
  label: string;
  adapters: AdapterChoice[];
}

/** One column's share of a generation: its own prompt (chat columns keep their own replies). */
export interface GenerationJob {
  column_id: string;
  ref: ModelRef;
  prompt?: string;
  messages?: ChatMessage[];
}

export type PlaygroundMode = 'chat' | 'raw';

export type PickPurpose = 'model' | 'adapter' | 'golden';

/** One golden-set example as scored for one column. */
export interface GoldenExampleResult {
  index: number;
  question: string;
  reference: string;
  prediction: string;
  /** extracted answers (answer.ts); undefined when none could be extracted. */
  expected?: string;
  got?: string;
  pass: boolean;
}

export type HostToPlayground =
  | { type: 'init'; choices: ModelChoice[]; preselect?: ModelRef }
  | { type: 'choices'; choices: ModelChoice[] }
  | { type: 'preselect'; ref: ModelRef }
  | { type: 'picked'; purpose: PickPurpose; path: string; column_id?: string }
  | { type: 'columnStatus'; request_id: string; column_id: string; status: 'queued' | 'loading' | 'generating' }
  | { type: 'token'; request_id: string; column_id: string; text: string }
  | {
      type: 'columnDone';
      request_id: string;
      column_id: string;
      text: string;
      new_tokens: number;
      tokens_per_second: number;
      cancelled: boolean;
    }
  | { type: 'columnError'; request_id: string; column_id: string; message: string }
  | { type: 'goldenExample'; request_id: string; column_id: string; total: number; result: GoldenExampleResult }
  | { type: 'goldenDone'; request_id: string; column_id: string; correct: number; total: number; cancelled: boolean }
  | { type: 'goldenError'; request_id: string; message: string };

export type PlaygroundToHost =
  | { type: 'ready' }
  | { type: 'pick'; purpose: PickPurpose; column_id?: string }
  | { type: 'generate'; request_id: string; jobs: GenerationJob[]; options: DecodingOptions }
  | {
      type: 'runGolden';
      request_id: string;
      file: string;
      count: number;
      mode: PlaygroundMode;
      system: string;
      columns: { column_id: string; ref: ModelRef }[];
      options: DecodingOptions;
    }
  | { type: 'stop' }
  /** opens text (a golden example, a column's transcript) in an editor tab. */
  | { type: 'openText'; title: string; content: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isOptionalString = (v: unknown): boolean => v === undefined || isString(v);
const isOptionalNumber = (v: unknown): boolean => v === undefined || isFiniteNumber(v);

/** `ftune export --json`'s result, as far as the extension reads it. */
export function isExportResult(value: unknown): value is ExportResult {
  const strings = (v: unknown) => Array.isArray(v) && v.every(isString);
  return isRecord(value) && isString(value.out) && strings(value.files) && strings(value.notes) && strings(value.warnings);
}

export function isModelRef(value: unknown): value is ModelRef {
  return isRecord(value) && isString(value.model) && value.model.length > 0 && isOptionalString(value.adapter);
}

export function isChatMessage(value: unknown): value is ChatMessage {
  return isRecord(value) && isString(value.role) && isString(value.content);
}

export function isDecodingOptions(value: unknown): value is DecodingOptions {
  return (
    isRecord(value) &&
    isFiniteNumber(value.max_new_tokens) &&
    Number.isInteger(value.max_new_tokens) &&
    value.max_new_tokens > 0 &&
    typeof value.greedy === 'boolean' &&
    typeof value.stop === 'boolean' &&
    isOptionalNumber(value.temperature) &&
    isOptionalNumber(value.top_p) &&
    isOptionalNumber(value.top_k) &&
    isOptionalNumber(value.seed)
  );
}

function isGenerationJob(value: unknown): value is GenerationJob {
  if (!isRecord(value) || !isString(value.column_id) || !isModelRef(value.ref)) return false;
  const hasPrompt = value.prompt !== undefined;
  const hasMessages = value.messages !== undefined;
  // exactly one of prompt (raw completion) and messages (chat template)
  if (hasPrompt === hasMessages) return false;
  return hasPrompt ? isString(value.prompt) : Array.isArray(value.messages) && value.messages.every(isChatMessage);
}

const PICK_PURPOSES: ReadonlySet<string> = new Set<PickPurpose>(['model', 'adapter', 'golden']);

/** Guards a message received from the loss panel's webview. */
export function isLossPanelToHost(value: unknown): value is LossPanelToHost {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'ready':
      return true;
    case 'exportPng':
      return isString(value.data_url) && value.data_url.startsWith('data:image/png;base64,');
    case 'exportCsv':
      return isString(value.csv);
    default:
      return false;
  }
}

/** Guards a message received from the playground's webview. */
export function isPlaygroundToHost(value: unknown): value is PlaygroundToHost {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'ready':
    case 'stop':
      return true;
    case 'pick':
      return isString(value.purpose) && PICK_PURPOSES.has(value.purpose) && isOptionalString(value.column_id);
    case 'generate':
      return (
        isString(value.request_id) &&
        Array.isArray(value.jobs) &&
        value.jobs.length > 0 &&
        value.jobs.every(isGenerationJob) &&
        isDecodingOptions(value.options)
      );
    case 'runGolden':
      return (
        isString(value.request_id) &&
        isString(value.file) &&
        value.file.length > 0 &&
        isFiniteNumber(value.count) &&
        Number.isInteger(value.count) &&
        value.count > 0 &&
        (value.mode === 'chat' || value.mode === 'raw') &&
        isString(value.system) &&
        Array.isArray(value.columns) &&
        value.columns.length > 0 &&
        value.columns.every((c) => isRecord(c) && isString(c.column_id) && isModelRef(c.ref)) &&
        isDecodingOptions(value.options)
      );
    case 'openText':
      return isString(value.title) && isString(value.content);
    default:
      return false;
  }
}

const HOST_TO_LOSS_TYPES: ReadonlySet<string> = new Set<HostToLossPanel['type']>(['init', 'events', 'exported']);
const HOST_TO_PLAYGROUND_TYPES: ReadonlySet<string> = new Set<HostToPlayground['type']>([
  'init', 'choices', 'preselect', 'picked', 'columnStatus', 'token', 'columnDone', 'columnError',
  'goldenExample', 'goldenDone', 'goldenError',
]);

/** Guards a message the loss panel's webview receives (the webview only trusts its own host). */
export function isHostToLossPanel(value: unknown): value is HostToLossPanel {
  if (!isRecord(value) || !isString(value.type) || !HOST_TO_LOSS_TYPES.has(value.type)) return false;
  if (value.type === 'init') return Array.isArray(value.runs) && isFiniteNumber(value.overfit_patience);
  if (value.type === 'events') return isString(value.run_dir) && Array.isArray(value.events);
  return value.what === 'png' || value.what === 'csv';
}

/** Guards a message the playground's webview receives. */
export function isHostToPlayground(value: unknown): value is HostToPlayground {
  if (!isRecord(value) || !isString(value.type) || !HOST_TO_PLAYGROUND_TYPES.has(value.type)) return false;
  switch (value.type) {
    case 'init':
    case 'choices':
      return Array.isArray(value.choices);
    case 'preselect':
      return isModelRef(value.ref);
    case 'picked':
      return isString(value.purpose) && PICK_PURPOSES.has(value.purpose) && isString(value.path);
    case 'goldenError':
      return isString(value.request_id) && isString(value.message);
    default:
      return isString(value.request_id) && isString(value.column_id);
  }
}

// ---------------------------------------------------------------- CLI processes → host
//
// Every `ftune` command the extension runs follows one contract: `--json` output is one JSON line on
// stdout, and a failure is exit code 1 with one `ftune: error: REASON` line on stderr. The extension's
// one client (src/extension/cliClient.ts) spawns and reads them with the helpers below.

export const CLI_ERROR_PREFIX = 'ftune: error: ';

/** The reason of an `ftune: error: REASON` line; undefined for any other line. */
export function parseCliErrorLine(line: string): string | undefined {
  const at = line.indexOf(CLI_ERROR_PREFIX);
  return at >= 0 ? line.slice(at + CLI_ERROR_PREFIX.length).trimEnd() : undefined;
}

/** The CLI's error for a person: its `ftune: error: ...` lines without the prefix, else the last stderr lines. */
export function cliErrorMessage(stderr: string, exitCode: number | null, command = 'ftune preview'): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const errors = lines.map(parseCliErrorLine).filter((l): l is string => l !== undefined);
  if (errors.length) return errors.join('\n');
  if (lines.length) return lines.slice(-3).join('\n');
  return `${command} exited with code ${exitCode ?? 'unknown'}`;
}

/** One token of `ftune preview --json`: its text and whether the loss trains on it. */
export interface PreviewToken {
  id: number;
  text: string;
  trained: boolean;
}

/** One example of `ftune preview --json`. */
export interface PreviewExample {
  line: number;
  tokens: PreviewToken[];
  /** which side of a preference pair. */
  side?: 'chosen' | 'rejected';
  /** longer than the max length: training would skip it. */
  too_long?: boolean;
}

/** `ftune score --json`. */
export interface ScoreOutput {
  reward: number;
  tokens: number;
}

/** Token-length statistics of `ftune validate --model` (pairs of preference data: the longer side counts). */
export interface TokenStats {
  examples: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  max_length: number;
  over_max_length: number;
  total_tokens: number;
  /** label tokens the loss uses (positions >= 1). */
  trained_tokens: number;
}

/** `ftune validate --json`: the whole file's report. */
export interface ValidationReport {
  file: string;
  format: RecordFormat | null;
  ok: boolean;
  rows: number;
  valid_rows: number;
  problem_count: number;
  /** `file:line: reason`, at most MAX_REPORTED_PROBLEMS of them. */
  problems: string[];
  notes: string[];
  counts: Record<string, number>;
  tokens?: TokenStats;
}

/** `ftune validate --json` when the file cannot be read at all. */
export interface ValidationFailure {
  file: string;
  ok: false;
  problems: string[];
}

export const EXPORT_TARGETS = ['peft', 'merged', 'gguf', 'trl'] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

/** `ftune export --json`. */
export interface ExportResult {
  to: ExportTarget;
  out: string;
  /** files written, relative to `out`. */
  files: string[];
  warnings: string[];
  /** facts a person should read (e.g. which weights an adapter of a quantized base was merged into). */
  notes: string[];
  model?: string;
  adapter?: string;
  /** target-specific facts: dtype, shards, GGUF type, Modelfile style, data format... */
  details: Record<string, string | number | boolean | null>;
}

/**
 * `ftune eval --json`: `loss`, `perplexity`, `label_tokens`, `examples` for the loss, or the chosen
 * `--metric` with `examples` and `skipped` for a generation metric.
 */
export type EvalOutput = Record<string, number>;

/** `ftune generate --json`. */
export interface GenerateOutput {
  text: string;
  token_ids: number[];
  prompt_tokens: number;
}

/** The GPU self-check of `ftune doctor --model` (and of a webgpu run's start): GPU logits vs CPU logits. */
export interface SelfCheckResult {
  /** max |GPU − CPU| over the compared logits. */
  maxDiff: number;
  /** max |CPU logit|: the scale the difference is judged against. */
  scale: number;
  tolerance: number;
  tokens: number;
  headRows: number;
  layers: number[];
  ok: boolean;
}

/** `ftune doctor --model DIR`: the webgpu device's limits (by WebGPU limit name) and the self-check on DIR. */
export interface WebGpuModelCheck {
  device: string;
  limits: Record<string, number>;
  result: SelfCheckResult;
}

/** `ftune doctor --json`: the report, and the model check when `--model` was given and webgpu works. */
export type DoctorOutput = DoctorReport & { webgpu_model_check?: WebGpuModelCheck };

/** GGUF tensor types as `ftune export --type` and `ftune bench --llama-cpp` name them. */
export const GGUF_TYPES = ['f16', 'q8_0', 'f32'] as const;
export type GgufType = (typeof GGUF_TYPES)[number];

/**
 * `ftune bench --llama-cpp TYPE`: llama.cpp (node-llama-cpp, CPU) decoding the bench's shape written
 * as GGUF TYPE, with the same thread count, prompt and number of greedy decode steps as ours.
 */
export interface LlamaCppDecodeResult {
  type: GgufType;
  /** llama.cpp's release as node-llama-cpp reports it (its prebuilt binary's). */
  release: string;
  threads: number;
  gguf_bytes: number;
  prompt_tokens: number;
  decode_tokens: number;
  /** decode only: the prompt and the first token are out before the clock starts, as for ours. */
  decode_tokens_per_second: number;
  decode_cpu_seconds_per_token: number;
}

/** `ftune bench --json` (and `kernels`, time per kernel, with `--profile`). */
export interface BenchResult {
  backend: string;
  shape: string;
  batch: number;
  seq: number;
  method: 'lora' | 'full';
  /** --quantize: 'none' holds the frozen matrices as stored (16-bit), int8 / nf4 quantize the projections. */
  quantize: Quantize;
  /** how the frozen matrices were really held, e.g. "bf16+nf4" ("float32" when widened: --method full, no packed kernels). */
  frozen_matrices: string;
  train_tokens_per_second: number;
  seconds_per_step: number;
  cpu_seconds_per_step: number;
  /**
   * Tensor bytes alive at the peak of the training steps: on wasm the heap's own allocations (each
   * buffer once); elsewhere tfjs's count (a buffer shared by several tensors counts for each).
   */
  peak_memory_bytes: number;
  /** the wasm heap's size after the training steps (its high-water mark; the wasm backend's hard limit is 4 GiB). */
  wasm_heap_bytes?: number;
  max_rss_bytes: number;
  prefill_tokens_per_second: number;
  /** greedy decode steps after a 16-token prompt, decode only: the clock starts when the prompt's first token is out. */
  decode_tokens_per_second: number;
  /** CPU time of this process per decode step (same steps): on a busy machine wall time also counts other processes' turns. */
  decode_cpu_seconds_per_token: number;
  /** threads the CPU kernels compute with (wasm); absent on backends that do not say. */
  threads?: number;
  flops_per_second: number;
  parameters: number;
  trainable_parameters: number;
  /** with --llama-cpp: llama.cpp's decode of the same shape, the anchor to compare decode_tokens_per_second with. */
  llama_cpp?: LlamaCppDecodeResult;
}

export type BenchOutput = BenchResult & { kernels?: unknown };

/** `ftune demo --json`: exact match on the held-out arithmetic before and after training. */
export interface DemoOutput {
  exact_match_before: number;
  exact_match_after: number;
}

/** `ftune data pull --json`, when done: what was written (the provenance file and listing stay out). */
export interface DataPullSummary {
  out: string;
  records: number;
  preview: DatasetRecord[];
  config: string;
  split: string;
  revision: string;
  files: string[];
}

/** One stdout line of `ftune data pull --json`: the summary, or why it failed. */
export type DataPullOutput =
  | { result: DataPullSummary }
  | { error: { kind: string; message: string; status?: number } };

/** One stderr line of `ftune data pull --json` while it runs: bytes of a file, or records written so far. */
export type DataPullProgress =
  | { progress: { path: string; received: number; total: number } }
  | { records: number };

/** The `--json` output of every CLI command, by command name: the CLI writes them (cli/jsonOutput.ts), the extension reads them (cliClient.ts). */
export interface CliJsonOutputs {
  bench: BenchOutput;
  data: DataPullOutput;
  demo: DemoOutput;
  doctor: DoctorOutput;
  eval: EvalOutput;
  export: ExportResult;
  generate: GenerateOutput;
  preview: PreviewExample[];
  score: ScoreOutput;
  validate: ValidationReport | ValidationFailure;
}

// ---------------------------------------------------------------- host ↔ mask-preview webview

/** What the mask-preview panel shows and what it restores after a reload. */
export interface MaskPreviewTarget {
  file: string;
  model: string;
  /** how many examples (`--n`). */
  n: number;
}

export type HostToMaskPreview =
  | { type: 'loading'; target: MaskPreviewTarget }
  | {
      type: 'examples';
      target: MaskPreviewTarget;
      /** e.g. "prompt → completion"; "" when unknown. */
      format: string;
      /** e.g. "question→prompt, answer→completion"; "" when the columns already have the trainer's names. */
      mapping: string;
      examples: PreviewExample[];
    }
  | { type: 'error'; target: MaskPreviewTarget; message: string };

export type MaskPreviewToHost =
  | { type: 'ready' }
  | { type: 'reload'; n: number }
  | { type: 'changeModel' }
  | { type: 'openLine'; line: number };
