// `ftune bench`: LoRA (or full) training steps on random tokens, then prefill and decode, on a named
// shape with random weights or a real model folder. Prints throughput, peak memory and FLOP/s.
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import * as path from 'path';
import { GGUF_TYPES, type BenchResult, type LlamaCppDecodeResult } from '../core/protocol';
import { parseModelConfig, type ModelConfig } from '../core/modelConfig';
import { ALL_LINEAR_TARGETS } from '../core/runConfig';
import { mulberry32 } from '../core/random';
import { backendHeapBytes, initBackend } from '../engine/backend';
import { generate } from '../engine/generate';
import { LoraAdapter } from '../engine/lora';
import { DecoderModel } from '../engine/model';
import { causalLmObjective, type StepContext } from '../engine/objectives';
import { AdamW } from '../engine/optimizer';
import { randomModel, shapeConfig, SHAPES } from '../engine/shapes';
import { optimizerStep } from '../engine/step';
import { backendOption, number, optionalOneOf, parse, QUANTIZE_OPTIONS, QUANTIZE_USAGE, quantizeOption, str, UsageError } from './args';
import * as fs from 'fs';
import { llamaCppDecode, loadNodeLlamaCpp } from './benchLlamaCpp';
import { printJson } from './jsonOutput';
import { trackWasmAllocations } from '../engine/wasmAllocations';

export const BENCH_USAGE = `usage: ftune bench [--shape ${Object.keys(SHAPES).join('|')} | --model DIR | --config FILE] [--batch 4] [--seq 128]
    [--method lora|full] [--lora-r 8] [--steps 3] [--decode-tokens 16] [--backend B] [--gradient-checkpointing]
    ${QUANTIZE_USAGE} [--float32] [--llama-cpp ${GGUF_TYPES.join('|')}] [--profile] [--json]
  LoRA holds the frozen matrices as a BF16 checkpoint loads (16-bit; --quantize int8|nf4 quantizes the projections;
  --float32 holds them in float32, as before 16-bit storage); --method full trains every weight in float32.
  Decode counts greedy steps after a 16-token prompt (the prompt and its first token excluded).
  --llama-cpp TYPE: the same shape with random weights written as GGUF TYPE and decoded by llama.cpp on the CPU
  with our thread count, prompt and steps (needs the optional package: npm install node-llama-cpp).`;

export type { BenchResult };

/** Matmul FLOPs of one forward pass over B×T tokens (2 per multiply-add), attention included. */
export function forwardFlops(c: ModelConfig, B: number, T: number): number {
  const hd = c.head_dim, D = c.hidden_size;
  const perToken =
    c.num_hidden_layers * (D * c.num_attention_heads * hd * 2 + D * c.num_key_value_heads * hd * 2 + 3 * D * c.intermediate_size) +
    c.vocab_size * D;
  const attention = c.num_hidden_layers * 2 * c.num_attention_heads * T * T * hd; // QKᵀ and PV per sequence
  return 2 * (perToken * B * T + attention * B);
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    shape: { type: 'string' }, model: { type: 'string' }, config: { type: 'string' }, batch: { type: 'string' }, seq: { type: 'string' },
    method: { type: 'string' }, 'lora-r': { type: 'string' }, steps: { type: 'string' }, 'decode-tokens': { type: 'string' },
    backend: { type: 'string' }, json: { type: 'boolean' }, profile: { type: 'boolean' }, 'gradient-checkpointing': { type: 'boolean' }, float32: { type: 'boolean' },
    'llama-cpp': { type: 'string' }, ...QUANTIZE_OPTIONS,
  }, BENCH_USAGE);
  const method = (str(values, 'method') ?? 'lora') as 'lora' | 'full';
  if (method !== 'lora' && method !== 'full') throw new UsageError('--method must be lora or full');
  const quantize = quantizeOption(values) ?? 'none';
  if (method === 'full' && quantize !== 'none') throw new UsageError(`--quantize ${quantize} quantizes the frozen base of LoRA; --method full trains every weight in float32`);
  // --float32: LoRA on a float32 frozen base (every weight as before issue 18), the baseline of the 16-bit and quantized numbers.
  if (values.float32 === true && quantize !== 'none') throw new UsageError(`--float32 holds the frozen base in float32: it cannot be combined with --quantize ${quantize}`);
  const held = { float32: method === 'full' || values.float32 === true, quantize };
  const B = number(values, 'batch', 4, 'positive-int');
  const T = number(values, 'seq', 128, 'positive-int');
  const steps = number(values, 'steps', 3, 'positive-int');
  const r = number(values, 'lora-r', 8, 'positive-int');
  const decodeTokens = number(values, 'decode-tokens', 16, 'positive-int');
  const llamaCppType = optionalOneOf(values, 'llama-cpp', GGUF_TYPES);
  // Before minutes of benchmarking: a missing node-llama-cpp is one error line now.
  const llamaCpp = llamaCppType && await loadNodeLlamaCpp();
  const backend = await initBackend(backendOption(values), { packedWeights: quantize !== 'none' });
  // On wasm, the heap's own allocations from here on (the model included): tf.profile's peak counts a
  // buffer once per tensor that shares it (reshapes, the shared Identity), ~25 % too much at 3B.
  const allocations = tf.getBackend() === 'wasm' ? trackWasmAllocations() : undefined;

  let model: DecoderModel;
  let shape: string;
  const modelDir = str(values, 'model'), configFile = str(values, 'config');
  if (modelDir) {
    model = DecoderModel.load(modelDir, held);
    shape = path.basename(path.resolve(modelDir));
  } else if (configFile) {
    model = randomModel(parseModelConfig(JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>, configFile), 0, held);
    shape = path.basename(configFile);
  } else {
    shape = str(values, 'shape') ?? 'tiny';
    model = randomModel(shapeConfig(shape), 0, held);
  }
  const c = model.config;
  const frozenKinds = [...new Set([...model.packed.values()].map((w) => w.kind))].sort().join('+') || 'float32';
  model.gradientCheckpointing = values['gradient-checkpointing'] === true;
  const rand = mulberry32(1);
  const sequences = Array.from({ length: B }, () => {
    const ids = Array.from({ length: T }, () => Math.floor(rand() * c.vocab_size));
    return { input_ids: ids, labels: ids };
  });

  let vars: tf.Variable[];
  let adapter: LoraAdapter | undefined;
  if (method === 'full') {
    vars = [];
    for (const [name, t] of model.weights) {
      const v = tf.variable(t, true, `bench.${name}`);
      t.dispose();
      model.weights.set(name, v);
      vars.push(v);
    }
  } else {
    adapter = LoraAdapter.create(model, { r, alpha: 2 * r, dropout: 0, targets: [...ALL_LINEAR_TARGETS] }, 0);
    vars = adapter.variables();
  }
  const optimizer = new AdamW(vars, { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 });
  const ctx = (): StepContext => ({ model, adapter, padId: 0, training: true, seed: 0, neftuneAlpha: 0, headTrainable: method === 'full' });
  const step = () => optimizerStep(causalLmObjective, [sequences], vars, optimizer, ctx, { lr: 1e-4, maxGradNorm: 1 });

  // A plain warm-up step first: under tf.profile a failing kernel (out of memory) surfaces as an
  // unrelated TypeError. Then one step under the profiler (peak memory, time per kernel), then the
  // timed steps.
  allocations?.resetPeak(); // the steps' peak, not loading's
  let profiled: Awaited<ReturnType<typeof profileStep>>;
  try {
    await step();
    profiled = await profileStep(step);
  } finally {
    allocations?.stop(); // before the timed steps: the counting costs a little per allocation
  }
  const peakTensorBytes = allocations?.peak() ?? profiled.peakBytes;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) await step();
  const secondsPerStep = (performance.now() - t0) / 1000 / steps;
  // CPU time of this process (all its threads): on a busy machine wall time also counts other
  // processes' turns, CPU time does not.
  const cpu = process.cpuUsage(cpu0);
  const cpuSecondsPerStep = (cpu.user + cpu.system) / 1e6 / steps;
  const heapAfterTraining = backendHeapBytes();
  const kernels = values.profile === true ? profiled.kernels : undefined;

  const prompt = sequences[0].input_ids;
  const p0 = performance.now();
  await generate(model, { promptIds: prompt, options: { max_new_tokens: 1, greedy: true, stop: false }, eosIds: [], adapter });
  const prefillSeconds = (performance.now() - p0) / 1000;
  const decodePrompt = prompt.slice(0, Math.min(16, T));
  const decode = await timeDecode(model, adapter, decodePrompt, decodeTokens);
  const trainFlops = forwardFlops(c, B, T) * (method === 'full' ? 3 : 2);
  const result: BenchResult = {
    backend: `${backend.name}`,
    shape,
    batch: B,
    seq: T,
    method,
    quantize,
    frozen_matrices: frozenKinds,
    train_tokens_per_second: (B * T) / secondsPerStep,
    seconds_per_step: secondsPerStep,
    cpu_seconds_per_step: cpuSecondsPerStep,
    peak_memory_bytes: peakTensorBytes,
    wasm_heap_bytes: heapAfterTraining,
    max_rss_bytes: process.resourceUsage().maxRSS * 1024,
    prefill_tokens_per_second: T / prefillSeconds,
    decode_tokens_per_second: decodeTokens / decode.seconds,
    decode_cpu_seconds_per_token: decode.cpuSeconds / decodeTokens,
    threads: backend.threads,
    flops_per_second: trainFlops / secondsPerStep,
    parameters: model.parameterCount(),
    trainable_parameters: vars.reduce((n, v) => n + v.size, 0),
  };
  optimizer.dispose();
  adapter?.dispose();
  model.dispose();
  if (llamaCpp && llamaCppType) {
    // The same random weights (seed 0) for a named shape or --config; a --model folder's shape with random
    // weights (llama.cpp's speed does not depend on their values). The same threads: wasm's, else every core.
    const threads = backend.threads ?? os.availableParallelism();
    result.llama_cpp = await llamaCppDecode(llamaCpp, { config: c, seed: 0, type: llamaCppType, threads, promptIds: decodePrompt, decodeTokens });
  }
  if (values.json === true) printJson('bench', kernels ? { ...result, kernels } : result);
  else {
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    process.stdout.write(
      `backend ${result.backend} (${backend.device}), shape ${shape}, ${method}, frozen matrices ${result.frozen_matrices}, batch ${B} × seq ${T}\n` +
      `  train:   ${result.train_tokens_per_second.toFixed(1)} tokens/s (${secondsPerStep.toFixed(3)} s/step, ${cpuSecondsPerStep.toFixed(3)} CPU s/step), ${(result.flops_per_second / 1e9).toFixed(2)} GFLOP/s\n` +
      `  prefill: ${result.prefill_tokens_per_second.toFixed(1)} tokens/s   decode: ${result.decode_tokens_per_second.toFixed(1)} tokens/s (${(result.decode_cpu_seconds_per_token * 1000).toFixed(0)} CPU ms/token)\n` +
      `  peak tensor memory ${mb(result.peak_memory_bytes)}${result.wasm_heap_bytes ? `, wasm heap ${mb(result.wasm_heap_bytes)}` : ''}, max RSS ${mb(result.max_rss_bytes)}; ${result.trainable_parameters} trainable of ${result.parameters} parameters\n`,
    );
    if (result.llama_cpp) process.stdout.write(formatLlamaCpp(result.llama_cpp, result.decode_tokens_per_second));
    if (kernels) process.stdout.write(formatKernelProfile(kernels));
  }
  return 0;
}

/** Times `steps` greedy decode steps after `promptIds`: the clock starts when the prompt's first token is out. */
async function timeDecode(model: DecoderModel, adapter: LoraAdapter | undefined, promptIds: number[], steps: number): Promise<{ seconds: number; cpuSeconds: number }> {
  let produced = 0;
  let start = 0, end = 0;
  let cpu0 = process.cpuUsage(), cpu = cpu0;
  await generate(model, {
    promptIds, options: { max_new_tokens: steps + 1, greedy: true, stop: false }, eosIds: [], adapter,
    onToken: () => {
      produced++;
      if (produced === 1) {
        start = performance.now();
        cpu0 = process.cpuUsage();
      } else if (produced === steps + 1) {
        end = performance.now();
        cpu = process.cpuUsage(cpu0);
      }
    },
  });
  return { seconds: (end - start) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function formatLlamaCpp(l: LlamaCppDecodeResult, ours: number): string {
  return `  llama.cpp ${l.release}, ${l.type} GGUF (${(l.gguf_bytes / 2 ** 20).toFixed(0)} MiB), ${l.threads} thread${l.threads === 1 ? '' : 's'}: ` +
    `decode ${l.decode_tokens_per_second.toFixed(1)} tokens/s (${(l.decode_cpu_seconds_per_token * 1000).toFixed(0)} CPU ms/token); ours ${(ours / l.decode_tokens_per_second).toFixed(2)}× of it\n`;
}

export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

/** One training step under tf.profile: its peak tensor bytes and time per kernel name (forward, backward and optimiser together). */
async function profileStep(step: () => Promise<unknown>): Promise<{ peakBytes: number; kernels: KernelTime[] }> {
  const info = await tf.profile(async () => {
    await step();
  });
  const byName = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    const entry = byName.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
    entry.calls += 1;
    const ms = await k.kernelTimeMs;
    entry.ms += typeof ms === 'number' ? ms : 0;
    byName.set(k.name, entry);
  }
  return { peakBytes: info.peakBytes, kernels: [...byName.values()].sort((a, b) => b.ms - a.ms) };
}

function formatKernelProfile(kernels: KernelTime[]): string {
  const total = kernels.reduce((s, k) => s + k.ms, 0);
  const lines = kernels.slice(0, 15).map((k) =>
    `    ${k.kernel.padEnd(22)} ${k.ms.toFixed(0).padStart(7)} ms ${((100 * k.ms) / total).toFixed(1).padStart(5)}%  ${String(k.calls).padStart(5)} calls`);
  return `  kernels (one profiled step, ${total.toFixed(0)} ms in kernels):\n${lines.join('\n')}\n`;
}
