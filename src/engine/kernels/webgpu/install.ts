// Replacements for tfjs-backend-webgpu kernels that fail on real devices, and our own fused WGSL
// kernels where tfjs's composites cost many dispatches (each file says why).
// Installed after @tensorflow/tfjs-backend-webgpu has registered its kernels.
import { installWebGpuRowSlice } from '../../rowBlocks';
import { installWebGpuAddN } from './addN';
import { installWebGpuAdamW } from './adamW';
import { installWebGpuAttention } from './attention';
import { installWebGpuCrossEntropy } from './crossEntropy';
import { installWebGpuMatMul } from './matMul';
import { installWebGpuPackedDequantize } from './packedDequantize';
import { installWebGpuPackedGather } from './packedGather';
import { installWebGpuPackedMatMul } from './packedMatMul';
import { installWebGpuRmsNorm } from './rmsNorm';
import { installWebGpuRope } from './rope';
import { installWebGpuSoftmax } from './softmax';

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
  installWebGpuPackedMatMul();
  installWebGpuPackedGather();
  installWebGpuPackedDequantize();
}
