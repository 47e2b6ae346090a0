// WebGPU in Node: Dawn's bindings (`webgpu` npm package) provide navigator.gpu, which must exist
// before @tensorflow/tfjs-backend-webgpu is imported (it registers itself only then).
// Any GPU vendor works through Vulkan, Metal or D3D12; on a machine without a GPU, Mesa's lavapipe
// (scripts/setup-webgpu.sh) is a CPU Vulkan driver good for correctness tests, not for speed.

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

interface DawnModule {
  create(flags: string[]): { requestAdapter(): Promise<{ info?: AdapterInfo } | null> };
  globals: Record<string, unknown>;
}

/** WebGPU cannot run here at all (no bindings, no driver, no adapter): not a bug in the engine. */
export class WebGpuUnavailableError extends Error {}

let ready: Promise<string> | undefined;

/** Sets up navigator.gpu and registers tfjs's webgpu backend once; resolves to the adapter's description. */
export function initWebGpu(): Promise<string> {
  ready ??= setUp();
  return ready;
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

async function setUp(): Promise<string> {
  let dawn: DawnModule;
  try {
    // An ES module: import() works in every Node version that require(esm) does not.
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    throw new WebGpuUnavailableError(`the 'webgpu' package (Dawn for Node) cannot be loaded: ${firstLine(err)}`);
  }
  let adapter: { info?: AdapterInfo } | null;
  let gpu: ReturnType<DawnModule['create']>;
  try {
    gpu = dawn.create([]);
    adapter = await gpu.requestAdapter();
  } catch (err) {
    throw new WebGpuUnavailableError(`Dawn could not look for a GPU adapter: ${firstLine(err)}`);
  }
  if (!adapter) {
    throw new WebGpuUnavailableError('no WebGPU adapter: no GPU driver with Vulkan, Metal or D3D12 (on Linux without a GPU, scripts/setup-webgpu.sh installs Mesa lavapipe)');
  }
  Object.assign(globalThis, dawn.globals);
  // Node 21+ has a navigator of its own (without gpu): extend it; Node 20 has none.
  const existing = (globalThis as { navigator?: object }).navigator;
  if (existing) Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  await import('@tensorflow/tfjs-backend-webgpu');
  const info = adapter.info ?? {};
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'adapter';
  // Mesa's llvmpipe/lavapipe and SwiftShader are CPU emulations of a GPU: say so.
  const software = /llvmpipe|lavapipe|swiftshader/i.test(name) ? ' (a software GPU on the CPU: for testing, not speed)' : '';
  return `WebGPU: ${name}${software}`;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
