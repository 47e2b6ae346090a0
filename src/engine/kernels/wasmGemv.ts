// Matrix-vector products (one row of activations: decoding) for tfjs-backend-wasm.
//
// WHY: XNNPACK computes products in tiles of 8 output columns. A single row against a weight is
// either x·Wᵀ with W packed first (a copy of the whole weight per call, since weights are not cached:
// see wasmMatMul.ts) or W·xᵀ with one useful column in each tile of 8. Both run at ~3 GB/s of
// weight, and decoding reads every weight once per token. These loops read each weight once, 4 rows
// at a time with 128-bit SIMD, straight from the tfjs heap (the module imports tfjs's memory).
// Source: wasmGemv.wat, assembled into wasmGemvBinary.ts by scripts/build-wasm-kernels.mjs.
import { GEMV_WASM_BASE64, GEMV_WASM_SHARED_BASE64 } from './wasmGemvBinary';

export interface GemvKernels {
  /** y[n] = Σ_k w[n·K + k]·x[k], n < N (w: [N, K] row-major); arguments are byte offsets in the heap. */
  gemv(w: number, x: number, y: number, N: number, K: number): void;
  /** y[n] = Σ_k x[k]·b[k·N + n], n < N (b: [K, N] row-major). */
  vecmat(x: number, b: number, y: number, K: number, N: number): void;
}

/** The parts of the tfjs wasm module that hold its memory (4.x: single-threaded and threaded builds). */
interface WasmModuleMemory {
  asm?: { memory?: WebAssembly.Memory };
  wasmMemory?: WebAssembly.Memory;
}

const instances = new WeakMap<object, GemvKernels | null>();

/** The kernels bound to this tfjs wasm module's memory, or undefined where they cannot be set up. */
export function gemvKernels(wasmModule: object): GemvKernels | undefined {
  let kernels = instances.get(wasmModule);
  if (kernels === undefined) {
    kernels = instantiate(wasmModule as WasmModuleMemory);
    instances.set(wasmModule, kernels);
  }
  return kernels ?? undefined;
}

function instantiate(m: WasmModuleMemory): GemvKernels | null {
  const memory = m.wasmMemory ?? m.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  try {
    const module = new WebAssembly.Module(Buffer.from(shared ? GEMV_WASM_SHARED_BASE64 : GEMV_WASM_BASE64, 'base64'));
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    return instance.exports as unknown as GemvKernels;
  } catch {
    return null; // the stock products still work
  }
}
