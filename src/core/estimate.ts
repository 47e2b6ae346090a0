// A rough memory and time estimate for a training run, computed from a model's config.json alone
// (no weights are read). The wizard shows it before a run starts so a person can pick a preset that
// fits their machine. Numbers are deliberately simple: parameter counts are exact for Llama-family
// (Llama, Qwen2, Mistral, ...) decoder shapes; activation memory and FLOPs are textbook approximations.

import { packedLayoutBytes } from './packedLayout';
import { holdsPackedWeights, resolveLoraTargets, type BackendName, type Quantize, type RunConfig } from './runConfig';

/** The part of a Hugging Face config.json that sizes a decoder-only transformer. */
export interface ModelShape {
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  tie_word_embeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2 does; Llama does not). */
  attention_bias: boolean;
  /** bytes per weight in the checkpoint (torch_dtype bfloat16 / float16: 2; float32, unstated or absent: 4). */
  stored_bytes_per_weight?: 2 | 4;
}

/** Reads the shape from a parsed config.json; throws with the missing key's name when it is not a decoder config. */
export function modelShapeFromConfig(outer: Record<string, unknown>): ModelShape {
  // Gemma3ForConditionalGeneration: the text decoder's config is nested (vision tower not counted).
  const nested = outer.model_type === 'gemma3' && typeof outer.text_config === 'object' && outer.text_config !== null;
  const config = nested ? { model_type: 'gemma3_text', tie_word_embeddings: true, head_dim: 256, vocab_size: 262208, ...(outer.text_config as Record<string, unknown>) } : outer;
  const num = (key: string, fallback?: number): number => {
    const value = config[key];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
    if (fallback !== undefined) return fallback;
    throw new Error(`config.json: "${key}" is missing or not a positive number`);
  };
  const modelType = typeof config.model_type === 'string' ? config.model_type : 'unknown';
  const hidden = num('hidden_size');
  const heads = num('num_attention_heads');
  return {
    model_type: modelType,
    vocab_size: num('vocab_size'),
    hidden_size: hidden,
    intermediate_size: num('intermediate_size'),
    num_hidden_layers: num('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: num('num_key_value_heads', heads),
    head_dim: num('head_dim', hidden / heads),
    // Gemma ties its head by default; Llama/Qwen/Phi configs default to untied.
    tie_word_embeddings: modelType === 'gemma3_text' ? config.tie_word_embeddings !== false : config.tie_word_embeddings === true,
    // Qwen2 configs do not spell the bias out; the architecture always has it.
    attention_bias: config.attention_bias === true || modelType === 'qwen2',
    stored_bytes_per_weight: storedBytesPerWeight(config.torch_dtype ?? config.dtype ?? outer.torch_dtype ?? outer.dtype),
  };
}

/** 16-bit checkpoints stay 16-bit in memory; an unstated dtype counts as float32 (a fit check must not promise too much). */
function storedBytesPerWeight(dtype: unknown): 2 | 4 {
  return dtype === 'bfloat16' || dtype === 'float16' ? 2 : 4;
}

export interface LinearShape {
  name: string;
  in_features: number;
  out_features: number;
}

/** The projections of one decoder layer, named as in PEFT / transformers (phi3 fuses q/k/v and gate/up). */
export function layerLinears(shape: ModelShape): LinearShape[] {
  const q = shape.num_attention_heads * shape.head_dim;
  const kv = shape.num_key_value_heads * shape.head_dim;
  const h = shape.hidden_size;
  const i = shape.intermediate_size;
  if (shape.model_type === 'phi3') {
    return [
      { name: 'qkv_proj', in_features: h, out_features: q + 2 * kv },
      { name: 'o_proj', in_features: q, out_features: h },
      { name: 'gate_up_proj', in_features: h, out_features: 2 * i },
      { name: 'down_proj', in_features: i, out_features: h },
    ];
  }
  return [
    { name: 'q_proj', in_features: h, out_features: q },
    { name: 'k_proj', in_features: h, out_features: kv },
    { name: 'v_proj', in_features: h, out_features: kv },
    { name: 'o_proj', in_features: q, out_features: h },
    { name: 'gate_proj', in_features: h, out_features: i },
    { name: 'up_proj', in_features: h, out_features: i },
    { name: 'down_proj', in_features: i, out_features: h },
  ];
}

export interface ParameterCount {
  total: number;
  embedding: number;
  per_layer: number;
  lm_head: number;
}

export function countParameters(shape: ModelShape): ParameterCount {
  const linears = layerLinears(shape);
  const weights = linears.reduce((sum, l) => sum + l.in_features * l.out_features, 0);
  const biases = shape.attention_bias ? linears.slice(0, 3).reduce((sum, l) => sum + l.out_features, 0) : 0;
  // gemma3 adds pre/post feed-forward norms and q/k norms; qwen3 has q/k norms.
  const norms = shape.model_type === 'gemma3_text' ? 4 * shape.hidden_size + 2 * shape.head_dim
    : shape.model_type === 'qwen3' ? 2 * shape.hidden_size + 2 * shape.head_dim : 2 * shape.hidden_size;
  const perLayer = weights + biases + norms;
  const embedding = shape.vocab_size * shape.hidden_size;
  const lmHead = shape.tie_word_embeddings ? 0 : embedding;
  const finalNorm = shape.hidden_size;
  return {
    total: embedding + lmHead + finalNorm + perLayer * shape.num_hidden_layers,
    embedding,
    per_layer: perLayer,
    lm_head: lmHead,
  };
}

/** LoRA adds A (r × in) and B (out × r) to every targeted projection of every layer. */
export function countLoraParameters(shape: ModelShape, r: number, targets: RunConfig['lora_targets']): number {
  const wanted = new Set(resolveLoraTargets(targets));
  // phi3: the llama-style names select its fused modules (as the engine maps them).
  if (wanted.has('q_proj') || wanted.has('k_proj') || wanted.has('v_proj')) wanted.add('qkv_proj');
  if (wanted.has('gate_proj') || wanted.has('up_proj')) wanted.add('gate_up_proj');
  const perLayer = layerLinears(shape)
    .filter((l) => wanted.has(l.name))
    .reduce((sum, l) => sum + r * (l.in_features + l.out_features), 0);
  return perLayer * shape.num_hidden_layers;
}

/**
 * Effective training throughput of each backend in FLOP/s on a typical machine. These are rough
 * planning figures (measured runs replace them through `measured_tokens_per_second`).
 */
export const BACKEND_FLOPS: Readonly<Record<BackendName, number>> = {
  cpu: 1e9,
  wasm: 8e9,
  tensorflow: 60e9,
  webgpu: 400e9,
  auto: 8e9,
};

/**
 * Fixed cost per decoder layer per micro-batch (kernel dispatch, JS overhead), in seconds. It dominates
 * for small models, where FLOPs alone would promise steps far faster than any backend delivers.
 */
export const BACKEND_LAYER_OVERHEAD_SECONDS: Readonly<Record<BackendName, number>> = {
  cpu: 0.3,
  wasm: 0.1,
  tensorflow: 0.01,
  webgpu: 0.02,
  auto: 0.1,
};

export interface EstimateInput {
  shape: ModelShape;
  full: boolean;
  lora_r: number;
  lora_targets: RunConfig['lora_targets'];
  batch_size: number;
  grad_accum: number;
  max_length: number;
  /** optimiser steps the run will take. */
  steps: number;
  backend: BackendName;
  gradient_checkpointing?: boolean;
  /** average tokens per example when known (otherwise every example is assumed to fill max_length). */
  tokens_per_example?: number;
  /** throughput measured by an earlier run of the same model on the same backend; overrides BACKEND_FLOPS. */
  measured_tokens_per_second?: number;
  /** how the frozen base is held (LoRA only; default 'none': as stored). */
  quantize?: Quantize;
}

export interface Estimate {
  total_parameters: number;
  trainable_parameters: number;
  weights_bytes: number;
  /** gradients + AdamW first and second moments of the trainable parameters (+ LoRA weights themselves). */
  optimizer_bytes: number;
  /** what a step holds beyond those at its peak: activations, the loss's chunk of logits, kernel scratch. */
  activation_bytes: number;
  /** wasm: heap the allocator holds beyond the tensors (free gaps, growth steps); 0 elsewhere. */
  heap_overhead_bytes: number;
  /** all of the above: what must fit in the backend's memory. */
  total_bytes: number;
  tokens_per_step: number;
  flops_per_step: number;
  seconds_per_step: number;
  total_seconds: number;
}

/** Trainable weights, their gradients, AdamW's moments and activations are float32. */
const BYTES_PER_FLOAT = 4;


/**
 * Bytes of one frozen projection weight [out, in] as the engine holds it (the packed layout of issue 18,
 * core/packedLayout.ts). 'none': as stored — 16-bit packed two values a word, float32 as is.
 */
export function packedLinearBytes(outFeatures: number, inFeatures: number, quantize: Quantize, storedBytes: 2 | 4): number {
  if (quantize !== 'none') return packedLayoutBytes(quantize, outFeatures, inFeatures);
  return storedBytes === 2 ? packedLayoutBytes('bf16', outFeatures, inFeatures) : outFeatures * inFeatures * 4;
}

export interface FrozenWeightBytes {
  /** the decoder layers' projections (quantized when asked). */
  projections: number;
  /** token embeddings and an untied lm_head: as stored (16-bit for BF16 / F16 checkpoints). */
  embeddings: number;
  /** norms and biases: float32 (a few vectors per layer). */
  vectors: number;
  total: number;
}

/** What the base model's weights occupy when they are frozen (LoRA training, eval, generation). */
export function frozenWeightBytes(shape: ModelShape, quantize: Quantize = 'none'): FrozenWeightBytes {
  const params = countParameters(shape);
  const linears = layerLinears(shape);
  const stored = shape.stored_bytes_per_weight ?? 4;
  const projections = shape.num_hidden_layers * linears.reduce((sum, l) => sum + packedLinearBytes(l.out_features, l.in_features, quantize, stored), 0);
  const embeddings = (params.embedding + params.lm_head) * stored;
  const linearWeights = linears.reduce((sum, l) => sum + l.in_features * l.out_features, 0);
  const vectors = (params.total - params.embedding - params.lm_head - linearWeights * shape.num_hidden_layers) * BYTES_PER_FLOAT;
  return { projections, embeddings, vectors, total: projections + embeddings + vectors };
}

export function estimateTraining(input: EstimateInput): Estimate {
  const { shape } = input;
  const params = countParameters(shape);
  const trainable = input.full ? params.total : countLoraParameters(shape, input.lora_r, input.lora_targets);
  // Full fine-tuning trains every weight as a float32 variable; LoRA's base is frozen, at its real size.
  // Backends without kernels for packed weights (tensorflow, cpu) widen 16-bit frozen weights to float32.
  const frozenShape = holdsPackedWeights(input.backend) ? shape : { ...shape, stored_bytes_per_weight: 4 as const };
  const weightsBytes = input.full ? params.total * BYTES_PER_FLOAT : frozenWeightBytes(frozenShape, input.quantize ?? 'none').total;
  // Full fine-tuning: grad + m + v per weight (the weight is counted above). LoRA: weight + grad + m + v.
  const optimizerBytes = trainable * BYTES_PER_FLOAT * (input.full ? 3 : 4);

  const t = Math.max(1, Math.min(input.max_length, input.tokens_per_example ?? input.max_length));
  const microTokens = input.batch_size * t;
  const activationBytes = activationFloats(shape, input.batch_size, t, input.gradient_checkpointing === true) * BYTES_PER_FLOAT + kernelScratchBytes(input.backend);
  const tensorBytes = weightsBytes + optimizerBytes + activationBytes;
  const heapOverheadBytes = usesWasmHeap(input.backend) ? Math.ceil(tensorBytes * WASM_HEAP_OVERHEAD) : 0;

  const tokensPerStep = microTokens * input.grad_accum;
  const forwardPerToken = forwardFlopsPerToken(shape, params, t);
  // backward ≈ 2× forward when weight gradients are needed (full), ≈ 1× when only activation
  // gradients flow through frozen weights (LoRA's own matmuls are negligible).
  const trainMultiplier = input.full ? 3 : 2;
  const flopsPerStep = forwardPerToken * trainMultiplier * tokensPerStep;
  const secondsPerStep =
    input.measured_tokens_per_second && input.measured_tokens_per_second > 0
      ? tokensPerStep / input.measured_tokens_per_second
      : flopsPerStep / BACKEND_FLOPS[input.backend] + input.grad_accum * shape.num_hidden_layers * BACKEND_LAYER_OVERHEAD_SECONDS[input.backend];
  return {
    total_parameters: params.total,
    trainable_parameters: trainable,
    weights_bytes: weightsBytes,
    optimizer_bytes: optimizerBytes,
    activation_bytes: activationBytes,
    heap_overhead_bytes: heapOverheadBytes,
    total_bytes: tensorBytes + heapOverheadBytes,
    tokens_per_step: tokensPerStep,
    flops_per_step: flopsPerStep,
    seconds_per_step: secondsPerStep,
    total_seconds: secondsPerStep * Math.max(0, input.steps),
  };
}

/**
 * Heap the wasm kernels use beside tensors: XNNPACK packs the right operand of each product into a
 * buffer of its own (at most 2^24 floats: kernels/wasm/matMul.ts splits larger ones), freed after it.
 */
const WASM_KERNEL_SCRATCH_BYTES = (1 << 24) * BYTES_PER_FLOAT;

function kernelScratchBytes(backend: BackendName): number {
  return usesWasmHeap(backend) ? WASM_KERNEL_SCRATCH_BYTES : 0;
}

/** The wasm backend, and auto as the estimate takes it (no GPU: wasm). */
function usesWasmHeap(backend: BackendName): boolean {
  return backend === 'wasm' || backend === 'auto';
}

/**
 * The wasm heap beyond its tensors, as a fraction of them: malloc's free gaps between buffers of mixed
 * sizes and the memory's growth in steps. Measured with ftune bench at seq 512 with checkpointing:
 * Qwen2.5-3B nf4 grew the heap to 3,309 MiB for tensors the estimate puts at 3,110 MiB (+6.4 %);
 * 8 % leaves a margin so that a run the wizard passes does not stop out of memory.
 */
const WASM_HEAP_OVERHEAD = 0.08;

/**
 * Logits alive at once in the chunked cross-entropy and log-probabilities (engine/loss.ts,
 * engine/logprobs.ts): the labelled rows go through the vocabulary projection a chunk at a time.
 */
export const LOGITS_PER_CHUNK = 1 << 24;

/**
 * Floats alive at the peak of one micro-batch of `b` sequences of `t` tokens, beyond the weights and
 * the optimiser state, counted from what the engine holds (measured on the wasm heap at the shapes of
 * Llama-3.2-1B and Qwen2.5-3B, 512 tokens, LoRA on every projection):
 *  - one decoder layer's activations kept for its backward pass, with the gradients alive while it
 *    runs backward. Its peak is in the MLP (per token ~18 vectors of intermediate_size: gate, up, their
 *    LoRA deltas, the product and their gradients; 2 rows of attention scores) or in the attention's
 *    softmax (~7 rows of scores: scores, probabilities and their gradients; 10 of intermediate_size),
 *    beside ~40 vectors of hidden / heads·head_dim and 16 of the KV width;
 *  - with gradient checkpointing, each layer's input (and the embeddings) instead of every layer's
 *    activations, and one layer recomputed at a time;
 *  - the loss: one chunk of logits [rows, vocab] and ~3 temporaries as large (the tiled product's parts,
 *    exp, softmax), plus the selected hidden rows and their gradient.
 * The layer and the loss are not alive together with checkpointing (the loss runs backward first).
 */
function activationFloats(shape: ModelShape, b: number, t: number, checkpointing: boolean): number {
  const h = shape.hidden_size;
  const i = shape.intermediate_size;
  const kv = shape.num_key_value_heads * shape.head_dim;
  const q = shape.num_attention_heads * shape.head_dim;
  const scores = shape.num_attention_heads * t; // per token
  const vectors = 20 * h + 20 * q + 16 * kv;
  const layer = b * t * (vectors + Math.max(18 * i + 2 * scores, 10 * i + 7 * scores));
  const rows = b * t;
  const chunkRows = Math.min(rows, Math.max(1, Math.floor(LOGITS_PER_CHUNK / shape.vocab_size)));
  const loss = 4 * chunkRows * shape.vocab_size + 3 * rows * h;
  if (!checkpointing) return shape.num_hidden_layers * layer + loss;
  return (shape.num_hidden_layers + 1) * rows * h + Math.max(layer, loss);
}

function forwardFlopsPerToken(shape: ModelShape, params: ParameterCount, t: number): number {
  const matmulParams = params.per_layer * shape.num_hidden_layers;
  const attention = 2 * 2 * t * shape.num_attention_heads * shape.head_dim * shape.num_hidden_layers;
  const lmHead = 2 * shape.hidden_size * shape.vocab_size;
  return 2 * matmulParams + attention + lmHead;
}

/** Optimiser steps of a run: max_steps when set, otherwise ceil(examples / (batch × accum)) × epochs. */
export function totalSteps(examples: number, cfg: Pick<RunConfig, 'max_steps' | 'epochs' | 'batch_size' | 'grad_accum'>): number {
  if (cfg.max_steps > 0) return cfg.max_steps;
  const perEpoch = Math.ceil(examples / Math.max(1, cfg.batch_size * cfg.grad_accum));
  return perEpoch * Math.max(0, cfg.epochs);
}

/** The wasm backend's linear memory: 4 GiB at most (32-bit addresses). */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/** How much one training process can hold on `backend`, where a fixed limit is known, and in words. */
export function memoryLimit(backend: BackendName, systemBytes: number): { bytes: number; what: string } | undefined {
  switch (backend) {
    case 'wasm':
      return { bytes: WASM_HEAP_BYTES, what: "the wasm backend's 4 GB heap" };
    case 'auto':
      // Without a GPU, auto trains on wasm; with one the limit is the GPU's, which WebGPU does not report.
      return { bytes: WASM_HEAP_BYTES, what: "the wasm backend's 4 GB heap (what auto uses without a GPU)" };
    case 'cpu':
    case 'tensorflow':
      return { bytes: systemBytes, what: `this machine's ${formatBytes(systemBytes)} of memory` };
    case 'webgpu':
      return undefined;
  }
}

/** Memory-relevant settings the wizard may change to make a run fit. */
export interface FitSettings {
  gradient_checkpointing: boolean;
  batch_size: number;
  grad_accum: number;
  max_length: number;
  quantize: Quantize;
}

/** From the most exact to the smallest: the order in which a base is made smaller to fit. */
const PRECISIONS_BY_SIZE: readonly Quantize[] = ['none', 'int8', 'nf4'];

/**
 * The smallest change that brings the estimate under `limitBytes`, trying in order: gradient
 * checkpointing (same results, ~1.3× the compute), halving the micro-batch while doubling gradient
 * accumulation (same effective batch), a quantized base for LoRA (int8, then nf4: the frozen weights
 * shrink to about a half / a quarter of 16-bit, results change slightly), then halving max_length down
 * to 128 (longer examples are then dropped). Undefined when nothing fits.
 */
export function proposeFit(input: EstimateInput, limitBytes: number): (FitSettings & { total_bytes: number }) | undefined {
  const c: FitSettings = {
    gradient_checkpointing: input.gradient_checkpointing === true,
    batch_size: input.batch_size,
    grad_accum: input.grad_accum,
    max_length: input.max_length,
    quantize: input.quantize ?? 'none',
  };
  const bytes = () => estimateTraining({ ...input, ...c }).total_bytes;
  const effectiveBatch = input.batch_size * input.grad_accum;
  const smallerBase = (): boolean => {
    const next = PRECISIONS_BY_SIZE[PRECISIONS_BY_SIZE.indexOf(c.quantize) + 1];
    if (input.full || next === undefined || !holdsPackedWeights(input.backend)) return false;
    c.quantize = next;
    return true;
  };
  const shrink = [
    () => !c.gradient_checkpointing && (c.gradient_checkpointing = true),
    () => c.batch_size > 1 && ((c.batch_size = Math.max(1, Math.floor(c.batch_size / 2))), (c.grad_accum = Math.ceil(effectiveBatch / c.batch_size)), true),
    smallerBase,
    () => c.max_length > 128 && ((c.max_length = Math.max(128, Math.floor(c.max_length / 2))), true),
  ];
  let total = bytes();
  for (const step of shrink) {
    while (total > limitBytes && step()) total = bytes();
  }
  return total <= limitBytes ? { ...c, total_bytes: total } : undefined;
}

/**
 * The base precision a preset picks: the most exact one with which the run fits `limitBytes` once the
 * changes that keep its results (gradient checkpointing, micro-batch 1 with more accumulation) are
 * made — 16-bit when it fits, int8 when only a quantized base fits, nf4 where only nf4 fits (and nf4 when
 * nothing fits, the closest; the review then says it is too big). Full fine-tuning has no frozen base,
 * and the cpu / tensorflow backends hold it in float32 (no quantized base there).
 */
export function precisionThatFits(input: EstimateInput, limitBytes: number): Quantize {
  if (input.full || !holdsPackedWeights(input.backend)) return 'none';
  const exactChanges: EstimateInput = { ...input, gradient_checkpointing: true, batch_size: 1 };
  return PRECISIONS_BY_SIZE.find((quantize) => estimateTraining({ ...exactChanges, quantize }).total_bytes <= limitBytes) ?? 'nf4';
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
