// Never silently wrong on a GPU: before a run, the playground or generation starts on webgpu, a few
// tokens of the actual model go through the GPU and through the CPU, and the logits must agree.
// WHY: drivers differ (limits, precision, bugs), and a GPU that computes garbage does not throw — it
// shows a loss of 0 that looks like convergence. Nobody here can test every GPU; this runs on the user's.
//
// What is compared, to stay cheap at any model size: the model's first and last decoder layer (all
// of a 1-layer model) with its real embedding, final norm and head, on a few token ids spread over the
// vocabulary, at the head rows those ids select plus rows spread over the vocabulary (one at each
// edge of every block the GPU splits the head into). The CPU side is the same slice with a vocabulary
// cut down to those rows, on tfjs's plain JavaScript backend (the wasm heap is left alone).
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../core/random';
import type { ModelConfig } from '../core/modelConfig';
import type { SelfCheckResult } from '../core/protocol';
import { rowsPerBlock } from './kernels/webgpu/packedBlocks';
import { DecoderModel } from './model';
import { toPackedWeight, type PackedArrays, type PackedWeight } from './packedWeight';
import { bindingLimitBytes, gatherRows, splitPlan } from './rowBlocks';
import { webGpuDeviceError } from './webgpu';

export type { SelfCheckResult };

/** The GPU's logits are wrong for this model: the run must not start. */
export class GpuSelfCheckError extends Error {}

const TOKENS = 6;
const SPREAD_ROWS = 48;
/** Float32 on both sides, summed in different orders: agreement to 1% of the largest logit. */
const RELATIVE_TOLERANCE = 1e-2;

/** Compares the active webgpu backend with the CPU on `model`; never throws for a mismatch. */
export async function runGpuSelfCheck(model: DecoderModel): Promise<SelfCheckResult> {
  const gpuBackend = tf.getBackend();
  const c = model.config;
  const V = c.vocab_size, L = c.num_hidden_layers;
  const layers = L > 1 ? [0, L - 1] : [0];
  const rand = mulberry32(20241);
  const ids = [V - 1, 0, ...Array.from({ length: TOKENS - 2 }, () => Math.floor(rand() * V))];
  const head = model.packed.get(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  const rows = headRowsToCompare(V, c.hidden_size, ids, rand, head?.kind);
  const sliceConfig = sliceOf(c, layers);

  // GPU: the slice shares the model's tensors (clones are references, not copies). The vocabulary
  // matrices go in as the model's own tensors, so that their GPU row blocks are made once for both
  // (a second set for clones would double the largest allocation); they leave before the slice is disposed.
  const VOCABULARY = ['model.embed_tokens.weight', 'lm_head.weight'];
  const shared = new Map<string, tf.Tensor>();
  for (const [name, t] of model.weights) {
    const renamed = renameLayer(name, layers);
    if (renamed) shared.set(renamed, VOCABULARY.includes(name) ? t : tf.clone(t));
  }
  // Frozen matrices held packed (16-bit or quantized) stay packed on both sides: the CPU widens them
  // with the JavaScript definition (packedWeight.ts), so the GPU's WGSL widening is checked too.
  const sharedPacked = new Map<string, PackedWeight>();
  for (const [name, p] of model.packed) {
    const renamed = renameLayer(name, layers);
    if (renamed) sharedPacked.set(renamed, VOCABULARY.includes(name) ? p : { ...p, data: tf.clone(p.data), scales: p.scales && tf.clone(p.scales) });
  }
  const gpuSlice = new DecoderModel(sliceConfig, shared, sharedPacked);
  let gpu: Float32Array;
  let cpuWeights: Map<string, { data: Float32Array; shape: number[] }>;
  const cpuPacked = new Map<string, PackedArrays>();
  const rowsT = tf.tensor1d(rows, 'int32');
  try {
    const logits = tf.tidy(() => tf.gather(gpuSlice.logits(gpuSlice.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).hidden), rowsT, 1));
    gpu = (await logits.data()) as Float32Array;
    logits.dispose();
    // What the CPU needs: the layers as they are, and only the compared rows of the vocabulary matrices.
    cpuWeights = new Map();
    for (const [name, t] of shared) {
      const picked = VOCABULARY.includes(name) ? gatherRows(t as tf.Tensor2D, rowsT) : t;
      cpuWeights.set(name, { data: (await picked.data()) as Float32Array, shape: picked.shape });
      if (picked !== t) picked.dispose();
    }
    for (const [name, p] of sharedPacked) {
      if (VOCABULARY.includes(name)) {
        const picked = gatherRows(p, rowsT); // widened rows: the CPU's cut-down vocabulary is float32
        cpuWeights.set(name, { data: (await picked.data()) as Float32Array, shape: picked.shape });
        picked.dispose();
      } else {
        const words = (await p.data.data()) as Int32Array;
        const scales = p.scales ? ((await p.scales.data()) as Float32Array) : undefined;
        cpuPacked.set(name, { kind: p.kind, shape: [p.shape[0], p.shape[1]], words, scales });
      }
    }
  } finally {
    rowsT.dispose();
    for (const name of VOCABULARY) {
      gpuSlice.weights.delete(name);
      gpuSlice.packed.delete(name);
    }
    gpuSlice.dispose();
  }

  await tf.setBackend('cpu');
  let cpu: Float32Array;
  try {
    const weights = new Map([...cpuWeights].map(([name, w]) => [name, tf.tensor(w.data, w.shape, 'float32')]));
    const packed = new Map([...cpuPacked].map(([name, a]) => [name, toPackedWeight(a)]));
    const cpuSlice = new DecoderModel({ ...sliceConfig, vocab_size: rows.length }, weights, packed);
    try {
      const local = ids.map((id) => rows.indexOf(id));
      const logits = tf.tidy(() => cpuSlice.logits(cpuSlice.forward(tf.tensor2d([local], [1, local.length], 'int32')).hidden));
      cpu = (await logits.data()) as Float32Array;
      logits.dispose();
    } finally {
      cpuSlice.dispose();
    }
  } finally {
    await tf.setBackend(gpuBackend);
  }

  let maxDiff = 0, scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    const d = Math.abs(gpu[i] - cpu[i]);
    maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  const tolerance = RELATIVE_TOLERANCE * Math.max(scale, 1);
  return { maxDiff, scale, tolerance, tokens: ids.length, headRows: rows.length, layers, ok: maxDiff <= tolerance && webGpuDeviceError() === undefined };
}

/**
 * Runs the self-check when `backend` is webgpu and stops with a one-line error on a mismatch.
 * `device` names the adapter in the message.
 */
export async function assertGpuComputesRight(model: DecoderModel, backend: { name: string; device: string }): Promise<void> {
  if (backend.name !== 'webgpu') return;
  const r = await runGpuSelfCheck(model);
  if (r.ok) return;
  const deviceError = webGpuDeviceError();
  throw new GpuSelfCheckError(
    `the webgpu backend computes this model wrong on ${backend.device}: its logits differ from the CPU's by ${formatNumber(r.maxDiff)} ` +
    `(largest logit ${formatNumber(r.scale)}, allowed ${formatNumber(r.tolerance)}; ${r.tokens} tokens, layers ${r.layers.join(' and ')}, ${r.headRows} head rows)` +
    `${deviceError ? `; the GPU reported: ${deviceError}` : ''}. Use --backend wasm`,
  );
}

function formatNumber(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(3) : String(x);
}

/**
 * Sorted, distinct head rows: the token ids, both edges of every GPU block (of the float32 head, or of
 * the packed one when `packedKind` says it is held packed), and rows spread over V.
 */
function headRowsToCompare(V: number, D: number, ids: number[], rand: () => number, packedKind?: PackedWeight['kind']): number[] {
  const set = new Set(ids);
  const perBlock = packedKind ? Math.min(V, rowsPerBlock(packedKind, D, bindingLimitBytes())) : splitPlan(V, D).perBlock;
  for (let start = 0; start < V; start += perBlock) {
    set.add(start);
    set.add(Math.min(V, start + perBlock) - 1);
  }
  for (let i = 0; i < SPREAD_ROWS; i++) set.add(Math.floor(rand() * V));
  return [...set].sort((a, b) => a - b);
}

/** The config of a model made of `layers` only; per-layer lists (e.g. layer types) follow the layers. */
function sliceOf(c: ModelConfig, layers: number[]): ModelConfig {
  const out: Record<string, unknown> = { ...c, num_hidden_layers: layers.length };
  for (const [key, value] of Object.entries(c)) {
    if (Array.isArray(value) && value.length === c.num_hidden_layers && c.num_hidden_layers > 1) out[key] = layers.map((i) => value[i]);
  }
  return out as unknown as ModelConfig;
}

/** A weight's name in the slice (layer L−1 becomes layer 1), or undefined for layers left out. */
function renameLayer(name: string, layers: number[]): string | undefined {
  const m = /^model\.layers\.(\d+)\.(.*)$/.exec(name);
  if (!m) return name;
  const index = layers.indexOf(Number(m[1]));
  return index < 0 ? undefined : `model.layers.${index}.${m[2]}`;
}
