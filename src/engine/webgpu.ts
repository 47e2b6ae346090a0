// WebGPU in Node: Dawn's bindings (`webgpu` npm package) provide navigator.gpu, which must exist
// before @tensorflow/tfjs-backend-webgpu is imported (it registers itself only then).
// Any GPU vendor works through Vulkan, Metal or D3D12; on a machine without a GPU, Mesa's lavapipe
// (scripts/setup-webgpu.sh) is a CPU Vulkan driver good for correctness tests, not for speed.
//
// Where Dawn comes from: the `webgpu` package in a development checkout or an npm install; in the
// VSIX (no node_modules) the build copies its native binary for the target platform to
// dist/dawn/<platform>-<arch>/dawn.node, next to the CLI bundle (scripts/build.mjs).
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

interface Adapter {
  info?: AdapterInfo;
  isFallbackAdapter?: boolean;
  limits?: Record<string, number>;
  requestDevice?(descriptor: { requiredLimits: Record<string, number> }): Promise<GpuDevice>;
}

/** The slice of a GPUDevice used here (Dawn's objects are typed structurally: no DOM typings). */
interface GpuDevice {
  limits: Record<string, number>;
  addEventListener(type: 'uncapturederror', listener: (event: { error?: { message?: string } }) => void): void;
}

interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: { powerPreference?: string }): Promise<Adapter | null> };
  globals: Record<string, unknown>;
}

/**
 * The limits requested at device creation: all that the adapter offers. WHY: a device gets the
 * WebGPU defaults (128 MiB per binding, 256 MiB per buffer) unless it asks for more, and a binding
 * over the limit is not an exception in JavaScript but a validation error on the GPU timeline: the
 * kernel does not run and its output stays zero (a loss of 0, greedy tokens [0, 0, 0]).
 */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupsPerDimension', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize',
] as const;

export type WebGpuLimits = Record<(typeof REQUESTED_LIMITS)[number], number>;

/** A kernel would bind more than the device allows: its result would be silently wrong, so it throws. */
export class WebGpuLimitError extends Error {}

/** WebGPU cannot run here at all (no bindings, no driver, no adapter): not a bug in the engine. */
export class WebGpuUnavailableError extends Error {}

export interface WebGpuAdapter {
  /** e.g. "WebGPU: nvidia ampere NVIDIA GeForce RTX 3060" */
  description: string;
  /**
   * A CPU emulation of a GPU (Mesa llvmpipe/lavapipe, SwiftShader, WARP): correct but slower than
   * the wasm backend, so `--backend auto` does not choose it.
   */
  software: boolean;
}

let probed: Promise<{ dawn: DawnModule; gpu: ReturnType<DawnModule['create']>; adapter: WebGpuAdapter }> | undefined;
let ready: Promise<WebGpuAdapter> | undefined;
let deviceLimits: WebGpuLimits | undefined;
let firstDeviceError: string | undefined;

/** The limits of the device the webgpu backend runs on (undefined before the backend has started). */
export function webGpuLimits(): WebGpuLimits | undefined {
  return deviceLimits;
}

/** The first error the GPU reported outside any JavaScript call (a failed validation), if any. */
export function webGpuDeviceError(): string | undefined {
  return firstDeviceError;
}

/** Finds Dawn and a GPU adapter, without loading tfjs's webgpu backend. Cached per process. */
export async function probeWebGpu(): Promise<WebGpuAdapter> {
  probed ??= probe();
  return (await probed).adapter;
}

/** Sets up navigator.gpu and registers tfjs's webgpu backend once; resolves to the adapter. */
export function initWebGpu(): Promise<WebGpuAdapter> {
  ready ??= setUp();
  return ready;
}

/**
 * Whether this machine may have a hardware GPU for WebGPU at all, known without loading Dawn. On
 * Linux a GPU driver exposes a device node (/dev/dri/renderD* for Mesa, AMD, Intel; /dev/nvidia* for
 * NVIDIA's; /dev/dxg under WSL2); without one only a software adapter can exist. WHY check first:
 * `--backend auto` runs in every ftune process, and loading Dawn costs time and, on Mesa's lavapipe,
 * prints warnings to stderr. macOS (Metal) and Windows (D3D12) always may.
 */
export function mayHaveHardwareGpu(platform: NodeJS.Platform = process.platform, exists: (file: string) => boolean = fs.existsSync, list: (dir: string) => string[] = safeList): boolean {
  if (platform !== 'linux') return true;
  if (list('/dev/dri').some((name) => name.startsWith('renderD'))) return true;
  return ['/dev/nvidiactl', '/dev/nvidia0', '/dev/dxg'].some(exists);
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Why no WebGPU adapter can be created in this process, or undefined when one can. */
export async function webGpuUnavailableReason(): Promise<string | undefined> {
  try {
    await initWebGpu();
    return undefined;
  } catch (err) {
    if (err instanceof WebGpuUnavailableError) return err.message;
    throw err;
  }
}

async function probe(): Promise<{ dawn: DawnModule; gpu: ReturnType<DawnModule['create']>; adapter: WebGpuAdapter }> {
  const dawn = await loadDawn();
  let found: Adapter | null;
  let gpu: ReturnType<DawnModule['create']>;
  try {
    gpu = dawn.create([]);
    found = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    throw new WebGpuUnavailableError(`Dawn could not look for a GPU adapter: ${firstLine(err)}`);
  }
  if (!found) {
    throw new WebGpuUnavailableError('no WebGPU adapter: no GPU driver with Vulkan, Metal or D3D12 (on Linux without a GPU, scripts/setup-webgpu.sh installs Mesa lavapipe)');
  }
  return { dawn, gpu, adapter: describeAdapter(found) };
}

/** Names the adapter and tells a real GPU from a CPU emulation of one. */
export function describeAdapter(adapter: Adapter): WebGpuAdapter {
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'adapter';
  const software = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|microsoft basic render|\bsoftware\b/i.test(name);
  return { description: `WebGPU: ${name}${software ? ' (a software GPU on the CPU: for testing, not speed)' : ''}`, software };
}

async function loadDawn(): Promise<DawnModule> {
  let packageError: unknown;
  try {
    // An ES module: import() works in every Node version that require(esm) does not.
    return (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    packageError = err;
  }
  const bundled = bundledDawnPath();
  if (bundled) {
    try {
      return require(bundled) as DawnModule;
    } catch (err) {
      throw new WebGpuUnavailableError(`Dawn (${bundled}) cannot be loaded: ${firstLine(err)}`);
    }
  }
  throw new WebGpuUnavailableError(`the 'webgpu' package (Dawn for Node) cannot be loaded: ${firstLine(packageError)}`);
}

/** dist/dawn/<platform>-<arch>/dawn.node next to the CLI bundle (packaged extension), if present. */
export function bundledDawnPath(dir = __dirname): string | undefined {
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  const candidates = [dir, path.join(dir, '..')].map((d) => path.join(d, 'dawn', `${process.platform}-${arch}`, 'dawn.node'));
  return candidates.find((file) => fs.existsSync(file));
}

async function setUp(): Promise<WebGpuAdapter> {
  probed ??= probe();
  const { dawn, gpu, adapter } = await probed;
  Object.assign(globalThis, dawn.globals);
  // Node 21+ has a navigator of its own (without gpu): extend it; Node 20 has none.
  const existing = (globalThis as { navigator?: object }).navigator;
  if (existing) Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  // Replace the package's own factory (registered on import, not yet started) with one that asks for
  // every limit this engine depends on and checks each kernel's bindings against them.
  tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const found = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!found?.limits || !found.requestDevice) throw new WebGpuUnavailableError('the WebGPU adapter went away');
    const requiredLimits: Record<string, number> = {};
    for (const name of REQUESTED_LIMITS) if (found.limits[name] !== undefined) requiredLimits[name] = found.limits[name];
    const device = await found.requestDevice({ requiredLimits });
    device.addEventListener('uncapturederror', (event) => {
      firstDeviceError ??= event.error?.message?.split('\n')[0] ?? 'unknown GPU error';
    });
    deviceLimits = Object.fromEntries(REQUESTED_LIMITS.map((name) => [name, device.limits[name]])) as WebGpuLimits;
    const backend = new WebGPUBackend(device as unknown as ConstructorParameters<typeof WebGPUBackend>[0], found.info as unknown as ConstructorParameters<typeof WebGPUBackend>[1]);
    guardBindings(backend as unknown as ProgramRunner, deviceLimits);
    return backend;
  }, 3);
  return adapter;
}

interface ProgramRunner {
  runWebGPUProgram(program: GuardedProgram, inputs: tf.TensorInfo[], ...rest: unknown[]): tf.TensorInfo;
}

/** What the guard reads of a program (tfjs's WebGPUProgram and ours). */
export interface GuardedProgram {
  outputShape: number[];
  shaderKey: string;
  dispatch: number[];
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
}

/**
 * The bytes one kernel may bind: the device's maxStorageBufferBindingSize, or less under the test-only
 * FTUNE_TEST_WEBGPU_BINDING_BYTES, which lowers the limit for the guard and for every split alike, so
 * tiny models exercise the split paths (and the guard) in seconds.
 */
export function bindingLimitOf(limits: Pick<WebGpuLimits, 'maxStorageBufferBindingSize'>): number {
  const emulated = Number(process.env.FTUNE_TEST_WEBGPU_BINDING_BYTES);
  return emulated > 0 ? Math.min(limits.maxStorageBufferBindingSize, emulated) : limits.maxStorageBufferBindingSize;
}

/**
 * Every kernel (tfjs's and ours) runs through runWebGPUProgram: refuse there any input or output
 * larger than one binding may be, and any dispatch the backend cannot fold within
 * maxComputeWorkgroupsPerDimension, with the shapes in the message, instead of letting the GPU skip
 * the kernel. The engine splits the tensors it knows to be large (rowBlocks.ts, ops.ts); this catches the rest.
 */
function guardBindings(backend: ProgramRunner, limits: WebGpuLimits): void {
  const run = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (program, inputs, ...rest) => {
    checkBindings(program, inputs.map((t) => t.shape), bindingLimitOf(limits));
    checkDispatch(program, limits.maxComputeWorkgroupsPerDimension);
    return run(program, inputs, ...rest);
  };
}

/** Throws WebGpuLimitError when an input or the output of `program` is over `limit` bytes. */
export function checkBindings(program: GuardedProgram, inputShapes: number[][], limit: number): void {
  for (const shape of [...inputShapes, program.outputShape]) {
    checkFitsBinding(shape, limit, `kernel ${program.shaderKey} would bind a`, ', and compute a wrong result');
  }
}

/**
 * Throws WebGpuLimitError when a tensor of `shape` is over `limit` bytes (every webgpu dtype is 4
 * bytes per element), in one message: "webgpu: <subject> [shape] tensor (size), more than …<consequence>; <advice>".
 */
export function checkFitsBinding(shape: number[], limit: number, subject: string, consequence: string): void {
  const bytes = shape.reduce((n, d) => n * d, 1) * 4;
  if (bytes <= limit) return;
  throw new WebGpuLimitError(
    `webgpu: ${subject} [${shape.join(', ')}] tensor (${mib(bytes)}), more than this GPU's ` +
    `maxStorageBufferBindingSize (${mib(limit)})${consequence}; use a smaller --batch-size or --max-length, or --backend wasm`,
  );
}

/**
 * Throws WebGpuLimitError when `program`'s dispatch exceeds `max` workgroups in a dimension and the
 * backend cannot fold it: tfjs-backend-webgpu folds an x-only dispatch into [a, a, 1] or [a, a, a]
 * (its shaders, and ours through workgroupIndex(), undo that); a layout with y or z is not folded.
 */
export function checkDispatch(program: GuardedProgram, max: number): void {
  const { dispatch, dispatchLayout: layout } = program;
  if (dispatch.every((d) => d <= max)) return;
  const flat = layout.y === undefined && layout.z === undefined && dispatch[1] === 1 && dispatch[2] === 1;
  if (flat && Math.ceil(Math.cbrt(dispatch[0])) <= max) return;
  throw new WebGpuLimitError(
    `webgpu: kernel ${program.shaderKey} (output [${program.outputShape.join(', ')}]) would dispatch [${dispatch.join(', ')}] workgroups, more than ` +
    `this GPU's maxComputeWorkgroupsPerDimension (${max}); use a smaller --batch-size or --max-length, or --backend wasm`,
  );
}
function mib(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
