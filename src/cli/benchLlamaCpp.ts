// `ftune bench --llama-cpp TYPE`: the decode speed a user would compare ours with — the bench's random
// model written as GGUF TYPE and decoded by llama.cpp through node-llama-cpp on the CPU.
//
// The comparison is kept fair: the same shape and the same random weights (llama.cpp's speed does not
// depend on their values), the same thread count, the same prompt ids, the same number of greedy
// decode steps, and decode only — the clock starts once the prompt is processed and its first token
// is out, as for our decode in bench.ts.
//
// node-llama-cpp is optional (a devDependency; the VSIX does not ship it): it is imported only here,
// when --llama-cpp is given, and a missing package or binary is one error line saying how to get it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ModelConfig } from '../core/modelConfig';
import type { GgufType, LlamaCppDecodeResult } from '../core/protocol';
import { randomWeights, randomWeightValues } from '../engine/shapes';
import { GGML_TYPE } from '../export';
import { writeGgufModel, type GgufWeights } from '../export/gguf';
import { byteLevelVocab } from '../export/gguf/vocab';

type NodeLlamaCpp = typeof import('node-llama-cpp', { with: { 'resolution-mode': 'import' } });

/**
 * Imports node-llama-cpp, or fails with one line saying why and how to install it. The bundle keeps
 * this import as it is (scripts/build.mjs EXTERNAL_NATIVE): Node resolves it next to ftune at run time.
 */
export async function loadNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  try {
    return await import('node-llama-cpp');
  } catch (err) {
    throw new Error(`--llama-cpp needs node-llama-cpp, which could not be loaded (${firstLine(err)}); install it where ftune runs: npm install node-llama-cpp`);
  }
}

export interface LlamaCppDecodeRequest {
  config: ModelConfig;
  /** the seed of the bench's random model (randomWeights): the GGUF holds the same numbers. */
  seed: number;
  type: GgufType;
  threads: number;
  promptIds: readonly number[];
  decodeTokens: number;
}

/** Writes the random model as GGUF in a temporary folder, decodes it with llama.cpp and removes the folder. */
export async function llamaCppDecode(lib: NodeLlamaCpp, request: LlamaCppDecodeRequest): Promise<LlamaCppDecodeResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-bench-gguf-'));
  try {
    const file = path.join(dir, `bench-${request.type}.gguf`);
    const written = await writeGgufModel(file, randomGgufWeights(request.config, request.seed), byteLevelVocab(request.config.vocab_size), {
      type: GGML_TYPE[request.type], name: 'ftune bench',
    });
    const timed = await decodeWithLlamaCpp(lib, file, request);
    return { type: request.type, gguf_bytes: written.bytes, prompt_tokens: request.promptIds.length, decode_tokens: request.decodeTokens, threads: request.threads, ...timed };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The random model's weights, each drawn when the GGUF writer reaches it (a 3B shape never exists whole). */
function randomGgufWeights(config: ModelConfig, seed: number): GgufWeights {
  const byName = new Map(randomWeights(config, seed).map((w) => [w.name, w]));
  return {
    config,
    weight: (hfName) => {
      const w = byName.get(hfName);
      return w && { shape: w.shape, data: () => randomWeightValues(w) };
    },
  };
}

async function decodeWithLlamaCpp(
  lib: NodeLlamaCpp, file: string, request: LlamaCppDecodeRequest,
): Promise<Pick<LlamaCppDecodeResult, 'release' | 'decode_tokens_per_second' | 'decode_cpu_seconds_per_token'>> {
  let llama: Awaited<ReturnType<NodeLlamaCpp['getLlama']>>;
  try {
    // CPU only and never a source build or download: the prebuilt binary that came with the package.
    llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error, maxThreads: request.threads });
  } catch (err) {
    throw new Error(`node-llama-cpp has no llama.cpp binary that runs here (${firstLine(err)}); reinstall it where ftune runs: npm install node-llama-cpp`);
  }
  const model = await llama.loadModel({ modelPath: file });
  const prompt = request.promptIds.length;
  const context = await model.createContext({
    contextSize: prompt + request.decodeTokens + 1, batchSize: prompt, threads: { ideal: request.threads, min: request.threads },
  });
  try {
    const tokens = request.promptIds as unknown as Parameters<ReturnType<typeof context.getSequence>['evaluate']>[0];
    let out = 0;
    let started = 0;
    let cpu0 = process.cpuUsage();
    // temperature 0 is greedy; an end-of-generation token does not stop the count (random weights pick anything).
    for await (const token of context.getSequence().evaluate(tokens, { temperature: 0, yieldEogToken: true })) {
      void token;
      out++;
      if (out === 1) {
        started = performance.now();
        cpu0 = process.cpuUsage();
      }
      if (out === request.decodeTokens + 1) break;
    }
    const seconds = (performance.now() - started) / 1000;
    // llama.cpp's threads are this process's: its CPU time counts them all.
    const cpu = process.cpuUsage(cpu0);
    const steps = out - 1;
    if (steps < 1) throw new Error(`llama.cpp produced ${out} token(s), expected ${request.decodeTokens + 1}`);
    return {
      release: llama.llamaCppRelease.release,
      decode_tokens_per_second: steps / seconds,
      decode_cpu_seconds_per_token: (cpu.user + cpu.system) / 1e6 / steps,
    };
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
