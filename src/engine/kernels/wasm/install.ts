// Replacements for tfjs-backend-wasm kernels that are slow or memory-hungry for transformer
// training (each file says why). Installed once, before or after tf.setBackend('wasm').
import { installWasmGather } from './gather';
import { installWasmTranspose } from './heapKernels';
import { installWasmMatMul } from './matMul';
import { installWasmSharing } from './shared';

export function installWasmKernels(): void {
  installWasmMatMul();
  installWasmSharing();
  installWasmGather();
  installWasmTranspose();
}
