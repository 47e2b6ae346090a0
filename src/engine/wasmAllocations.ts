// The bytes the wasm backend really holds for tensors: its malloc / free calls from JavaScript, counted
// (ftune bench's peak tensor memory on wasm; the memory tests).
// WHY not tf.memory() / tf.profile's peakBytes: the engine counts every tensor, and a reshape or a
// shared Identity (kernels/wasm/shared.ts) is a second tensor on the same buffer, so those numbers
// exceed the heap's real use. XNNPACK's own scratch (allocated inside the module) is not seen here.
import * as tf from '@tensorflow/tfjs-core';

interface WasmModule {
  _malloc(bytes: number): number;
  _free(at: number): void;
}

export interface WasmAllocations {
  /** bytes allocated and not yet freed since tracking started. */
  live(): number;
  /** the most `live()` has been since tracking started (or since resetPeak), until stop(). */
  peak(): number;
  resetPeak(): void;
  stop(): void;
}

/** Starts counting the active wasm backend's tensor allocations (tensors made before are not counted). */
export function trackWasmAllocations(): WasmAllocations {
  if (tf.getBackend() !== 'wasm') throw new Error(`trackWasmAllocations needs the wasm backend, not ${tf.getBackend()}`);
  const m = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
  // Emscripten's exports start as wrappers that replace themselves on first call: resolve them first.
  m._free(m._malloc(16));
  const malloc = m._malloc, free = m._free;
  const sizes = new Map<number, number>();
  let live = 0, peak = 0;
  m._malloc = (bytes: number) => {
    const at = malloc(bytes);
    sizes.set(at >>> 0, bytes);
    live += bytes;
    peak = Math.max(peak, live);
    return at;
  };
  m._free = (at: number) => {
    const bytes = sizes.get(at >>> 0);
    if (bytes !== undefined) {
      live -= bytes;
      sizes.delete(at >>> 0);
    }
    free(at);
  };
  return {
    live: () => live,
    peak: () => peak,
    resetPeak: () => void (peak = live),
    stop: () => {
      m._malloc = malloc;
      m._free = free;
    },
  };
}
