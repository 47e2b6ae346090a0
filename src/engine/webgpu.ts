// WebGPU in Node: Dawn's bindings (`webgpu` npm package) provide navigator.gpu, which must exist
// before @tensorflow/tfjs-backend-webgpu is imported (it registers itself only then).

interface DawnModule {
  create(flags: string[]): { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; device?: string; description?: string } } | null> };
  globals: Record<string, unknown>;
}

export async function initWebGpu(): Promise<string> {
  let dawn: DawnModule;
  try {
    dawn = require('webgpu') as DawnModule;
  } catch (err) {
    throw new Error(`the 'webgpu' package is not installed (${(err as Error).message})`);
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  (globalThis as { navigator?: unknown }).navigator = { gpu };
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter found (no GPU driver, or Vulkan/Metal/D3D12 missing)');
  await import('@tensorflow/tfjs-backend-webgpu');
  const info = adapter.info ?? {};
  return `WebGPU: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'adapter'}`;
}
