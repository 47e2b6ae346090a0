// Replacements for tfjs-backend-wasm kernels that are slow or memory-hungry for transformer
// training (each file says why). Installed once, before or after tf.setBackend('wasm').
import { installWasmGather } from './wasmGather';
import { installWasmTranspose } from './wasmHeapKernels';
import { installWasmMatMul } from './wasmMatMul';
import { installWasmSharing } from './wasmShared';

export function installWasmKernels(): void {
  installWasmMatMul();
  installWasmSharing();
  installWasmGather();
  installWasmTranspose();
}
