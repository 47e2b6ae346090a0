// Replacements for tfjs-backend-wasm kernels that are slow or memory-hungry for transformer
// training (each file says why), and kernels of our own. Installed once, before or after tf.setBackend('wasm').
import { installWasmGather } from './gather';
import { installWasmTranspose } from './heapKernels';
import { installWasmInferenceKernels } from './inferenceKernels';
import { installWasmMatMul } from './matMul';
import { installWasmPackedKernels } from './packedKernels';
import { installWasmSharing } from './shared';

export function installWasmKernels(): void {
  installWasmMatMul();
  installWasmSharing();
  installWasmGather();
  installWasmTranspose();
  installWasmPackedKernels();
  installWasmInferenceKernels();
}
