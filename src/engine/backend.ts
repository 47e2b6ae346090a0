// Picks and initialises the TensorFlow.js backend the engine runs on.
//   tensorflow: @tensorflow/tfjs-node-gpu (optional peer dependency; CUDA 11.2 + cuDNN 8.1 or it runs on CPU)
//   webgpu:     tfjs-backend-webgpu over Dawn (`webgpu` npm package) — any GPU vendor, no CUDA
//   wasm:       tfjs-backend-wasm (SIMD), the default that always works
//   cpu:        tfjs-backend-cpu (plain JS), a fallback for kernels wasm lacks
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as fs from 'fs';
import * as path from 'path';
import { holdsPackedWeights, type BackendName } from '../core/runConfig';
import { installWasmKernels } from './kernels/wasm/install';
import { installWebGpuKernels } from './kernels/webgpu/install';
import { registerThreadedWasm, wasmThreadsWanted } from './kernels/wasm/threads';

// Gradients of tfjs's kernels: `npm run build` bundles them into tfjs-gradients.js next to this file
// (scripts/build-gradients.mjs); the packaged CLI bundle inlines the same module.
require('./tfjs-gradients.js');

export interface BackendInfo {
  name: Exclude<BackendName, 'auto'>;
  /** what really computes, e.g. "CUDA GPU 0", "CPU (libtensorflow)", "wasm SIMD, 1 thread", "Dawn: NVIDIA ...". */
  device: string;
  /** true when the work runs on a real GPU (not a CPU, not a software emulation of a GPU). */
  gpu: boolean;
  /** threads the CPU kernels compute with, where the backend says (wasm). */
  threads?: number;
}

let active: BackendInfo | undefined;

export function activeBackend(): BackendInfo | undefined {
  return active;
}

/**
 * Initialises the requested backend once per process. `auto` takes the fastest that starts, in the
 * order of AUTO_PREFERENCE: a CUDA GPU (tfjs-node-gpu), any real GPU through WebGPU, libtensorflow on
 * the CPU, wasm, plain JavaScript. A software WebGPU adapter (lavapipe, SwiftShader) is never chosen
 * by `auto`: it is slower than wasm.
 */
export async function initBackend(requested: BackendName = 'auto', needs: BackendNeeds = {}): Promise<BackendInfo> {
  const suits = (info: BackendInfo) => !needs.packedWeights || holdsPackedWeights(info.name);
  if (active && ((requested === 'auto' && suits(active)) || requested === active.name)) return active;
  if (requested === 'auto') {
    active = await initAuto(needs);
    return active;
  }
  try {
    active = await tryInit(requested);
    return active;
  } catch (err) {
    throw new Error(`no TensorFlow.js backend could start (${requested}: ${(err as Error).message})`);
  }
}

/** What the run needs of the backend `auto` picks. */
export interface BackendNeeds {
  /**
   * A quantized base (--quantize int8|nf4): only backends with kernels for packed weights (webgpu,
   * wasm) can hold one, so `auto` passes over tensorflow and cpu.
   */
  packedWeights?: boolean;
}

/** What `auto` prefers, best first; `gpu` entries rank above every CPU one. */
const AUTO_PREFERENCE: { name: Exclude<BackendName, 'auto'>; gpu: boolean }[] = [
  { name: 'tensorflow', gpu: true },
  { name: 'webgpu', gpu: true },
  { name: 'tensorflow', gpu: false },
  { name: 'wasm', gpu: false },
  { name: 'cpu', gpu: false },
];

/** The backend `auto` picks among backends known to work (as `ftune doctor` lists them). */
export function autoChoice<T extends { backend: Exclude<BackendName, 'auto'>; ok: boolean; gpu?: boolean }>(entries: readonly T[]): T | undefined {
  for (const want of AUTO_PREFERENCE) {
    const hit = entries.find((e) => e.ok && e.backend === want.name && (e.gpu === true) === want.gpu);
    if (hit) return hit;
  }
  return undefined;
}

async function initAuto(needs: BackendNeeds): Promise<BackendInfo> {
  const failures: string[] = [];
  const attempt = async (name: Exclude<BackendName, 'auto'>): Promise<BackendInfo | undefined> => {
    try {
      return await tryInit(name);
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
      return undefined;
    }
  };
  const tensorflow = needs.packedWeights ? undefined : await attempt('tensorflow');
  if (tensorflow?.gpu) return tensorflow;
  // Look at the adapter before loading tfjs's webgpu backend (a software adapter is not worth its
  // start-up), and skip Dawn altogether where no GPU driver exists.
  const { mayHaveHardwareGpu, probeWebGpu } = require('./webgpu') as typeof import('./webgpu');
  const adapter = mayHaveHardwareGpu()
    ? await probeWebGpu().catch((err: Error) => {
      failures.push(`webgpu: ${err.message.split('\n')[0]}`);
      return undefined;
    })
    : undefined;
  if (adapter && !adapter.software) {
    const webgpu = await attempt('webgpu');
    if (webgpu) return webgpu;
  }
  if (tensorflow) {
    if (!(await tf.setBackend('tensorflow'))) throw new Error('tfjs-node did not start again');
    return tensorflow;
  }
  for (const name of needs.packedWeights ? ['wasm'] as const : ['wasm', 'cpu'] as const) {
    const info = await attempt(name);
    if (info) return info;
  }
  throw new Error(`no TensorFlow.js backend could start (${failures.join('; ')})`);
}

async function tryInit(name: Exclude<BackendName, 'auto'>): Promise<BackendInfo> {
  switch (name) {
    case 'tensorflow': {
      const device = await initTensorflow();
      return { name, device, gpu: device.startsWith('CUDA') };
    }
    case 'webgpu': {
      const { initWebGpu } = require('./webgpu') as typeof import('./webgpu');
      const adapter = await initWebGpu();
      installWebGpuKernels();
      if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu did not register');
      return { name, device: adapter.description, gpu: !adapter.software };
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const dir = wasmDirectory();
      if (dir) wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
      installWasmKernels();
      const note = await useWasmThreads(dir);
      if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-backend-wasm did not start');
      guardWasmAllocations();
      const threads = wasm.getThreadsCount();
      return { name, device: `CPU (wasm SIMD, ${threads} thread${threads === 1 ? '' : 's'}${note})`, gpu: false, threads };
    }
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('tfjs-backend-cpu did not start');
      return { name, device: 'CPU (JavaScript)', gpu: false };
  }
}

/** What tfjs-node's native backend reports about itself (NodeJSKernelBackend, tfjs-node 4.x). */
interface NodeBackendInfo {
  isGPUPackage?: boolean;
  isUsingGpuDevice?: boolean;
  binding?: { TF_Version?: string };
}

/**
 * @tensorflow/tfjs-node-gpu (CUDA) or @tensorflow/tfjs-node (CPU): optional, installed by the user.
 * Returns what really computes. WHY check isUsingGpuDevice: the GPU package silently falls back to
 * the CPU when CUDA 11.2 / cuDNN 8.1 are missing, and a "GPU" label would then be a lie.
 */
async function initTensorflow(): Promise<string> {
  // Literal module names so that bundlers see them (scripts/build.mjs keeps them external).
  const packages: [string, () => string, () => unknown][] = [
    ['@tensorflow/tfjs-node-gpu', () => require.resolve('@tensorflow/tfjs-node-gpu'), () => require('@tensorflow/tfjs-node-gpu')],
    ['@tensorflow/tfjs-node', () => require.resolve('@tensorflow/tfjs-node'), () => require('@tensorflow/tfjs-node')],
  ];
  const missing: string[] = [];
  let loaded: string | undefined;
  for (const [pkg, resolve, load] of packages) {
    try {
      resolve();
    } catch {
      missing.push(pkg);
      continue;
    }
    load(); // a load failure (missing libtensorflow, wrong ABI) is reported as is
    loaded = pkg;
    break;
  }
  if (!loaded) throw new Error(`neither ${missing.join(' nor ')} is installed`);
  if (!tf.findBackendFactory('tensorflow')) {
    throw new Error(`${loaded} registered its backend with another copy of @tensorflow/tfjs-core: install the version matching tfjs-core ${tf.version_core}`);
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${loaded} did not start`);
  const backend = tf.backend() as unknown as NodeBackendInfo;
  const lib = `libtensorflow${backend.binding?.TF_Version ? ' ' + backend.binding.TF_Version : ''}`;
  if (backend.isUsingGpuDevice) return `CUDA GPU (${lib})`;
  if (backend.isGPUPackage) return `CPU (${lib}; tfjs-node-gpu found no usable CUDA GPU: it needs an NVIDIA driver, CUDA 11.2 and cuDNN 8.1)`;
  return `CPU (${lib}, all cores)`;
}

/**
 * Switches the wasm backend to the threaded binary when more than one thread is wanted
 * (kernels/wasm/threads.ts). Returns a note for the device string when that failed and the
 * single-threaded binary is used instead.
 */
async function useWasmThreads(dir: string | undefined): Promise<string> {
  const wanted = wasmThreadsWanted();
  if (wanted <= 1) return '';
  const stock = tf.findBackendFactory('wasm');
  try {
    if (!dir) throw new Error('the wasm binaries were not found');
    await registerThreadedWasm(wanted, dir);
    return '';
  } catch (err) {
    if (stock && !tf.findBackendFactory('wasm')) tf.registerBackend('wasm', stock, 2);
    return `; ${wanted} threads unavailable: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** The wasm backend's allocation path (BackendWasm.move, tfjs 4.x) and its bookkeeping. */
interface WasmAllocating {
  move(dataId: tf.DataId, values: unknown, shape: number[], dtype: tf.DataType, refCount: number): void;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number | null } | undefined };
  guarded?: boolean;
}

/**
 * Turns a failed allocation into an error. WHY: tfjs-backend-wasm does not check malloc's result;
 * when the 4 GiB heap is full it places the tensor at address 0 and training goes on with corrupt
 * memory until something unrelated throws.
 */
function guardWasmAllocations(): void {
  const backend = tf.backend() as unknown as WasmAllocating;
  if (backend.guarded) return;
  const move = backend.move.bind(backend);
  backend.move = (dataId, values, shape, dtype, refCount) => {
    move(dataId, values, shape, dtype, refCount);
    const bytes = shape.reduce((n, d) => n * d, 1) * (dtype === 'bool' ? 1 : 4);
    if (dtype !== 'string' && bytes > 0 && backend.dataIdMap.get(dataId)?.memoryOffset === 0) {
      throw new Error(
        `out of memory: the wasm backend's heap (4 GiB at most) cannot hold another ${(bytes / 2 ** 20).toFixed(1)} MiB ([${shape.join(', ')}]). ` +
        'Use --gradient-checkpointing, a smaller --batch-size or --max-length, a quantized frozen base (--quantize nf4), or the webgpu / tensorflow backend',
      );
    }
  };
  backend.guarded = true;
}

/** Where the .wasm binaries are: next to a bundled CLI (dist/), or in node_modules. */
function wasmDirectory(): string | undefined {
  const candidates = [__dirname, path.join(__dirname, '..')];
  try {
    candidates.push(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist'));
  } catch {
    // Packaged (VSIX): no node_modules; the binaries sit next to dist/ftune.js.
  }
  return candidates.find((d) => fs.existsSync(path.join(d, 'tfjs-backend-wasm-simd.wasm')));
}

/**
 * Bytes the backend's own heap has reached, where it has one: the wasm backend's linear memory
 * (it only grows, so this is the high-water mark, and it cannot pass 4 GiB). Undefined elsewhere.
 */
export function backendHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.buffer.byteLength;
}

/** Reads a tensor without blocking backends that only support async reads (webgpu). */
export async function readFloat(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}
