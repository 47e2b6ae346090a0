// Replacements for tfjs-backend-webgpu kernels that fail on real devices, and our own fused WGSL
// kernels where tfjs's composites cost many dispatches (each file says why).
// Installed after @tensorflow/tfjs-backend-webgpu has registered its kernels.
import { installWebGpuRowSlice } from '../rowBlocks';
import { installWebGpuAddN } from './webgpuAddN';
import { installWebGpuAdamW } from './webgpuAdamW';
import { installWebGpuAttention } from './webgpuAttention';
import { installWebGpuCrossEntropy } from './webgpuCrossEntropy';
import { installWebGpuMatMul } from './webgpuMatMul';
import { installWebGpuRmsNorm } from './webgpuRmsNorm';
import { installWebGpuRope } from './webgpuRope';
import { installWebGpuSoftmax } from './webgpuSoftmax';

export function installWebGpuKernels(): void {
  installWebGpuAddN();
  installWebGpuMatMul();
  installWebGpuRmsNorm();
  installWebGpuCrossEntropy();
  installWebGpuSoftmax();
  installWebGpuRope();
  installWebGpuAttention();
  installWebGpuAdamW();
  installWebGpuRowSlice();
}
