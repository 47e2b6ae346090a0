// Replacements for tfjs-backend-webgpu kernels that fail on real devices (each file says why).
// Installed after @tensorflow/tfjs-backend-webgpu has registered its kernels.
import { installWebGpuAddN } from './webgpuAddN';

export function installWebGpuKernels(): void {
  installWebGpuAddN();
}
