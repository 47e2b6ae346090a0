// BatchMatMul and _FusedMatMul for tfjs-backend-webgpu (4.22) without its broken split-K program.
//
// WHY: for a product with few output tiles (≤ 8 rows, e.g. x·Wᵀ for a few tokens) and an inner
// dimension ≥ 2000, tfjs picks MatMulSplitKProgram. That program decides to read B as vec4s from
// the inner dimension and the output width alone, ignoring transposeB: with B given as [N, K]
// (transposeB, how every linear layer here multiplies) it reads the wrong elements and returns
// garbage, no error. At Llama-3.2-1B's shape (hidden 2048) k_proj/v_proj ([512, 2048]) for 1–8 tokens
// are off by 100% of their size: every decoding step with the KV cache and the GPU self-check's
// 6-token pass. Those products run tfjs's general tiled program (MatMulPackedProgram) instead, the
// one tfjs itself uses for the same product with 9 rows or more.
import * as tf from '@tensorflow/tfjs-core';
import { replaceKernel } from '../replace';

/** tfjs-backend-webgpu's MatMulProgramType values (webgpu_util.ts). */
const SPLIT_K = 1;
const PACKED = 3;
const PROGRAM_FLAG = 'WEBGPU_MATMUL_PROGRAM_TYPE';
const THRESHOLD_FLAG = 'WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL';

interface MatMulAttrs { transposeA: boolean; transposeB: boolean }

/** The program choice of tfjs's batchMatMulImpl (BatchMatMul_impl.ts), reduced to "split-K or not". */
export function tfjsPicksSplitK(a: number[], b: number[], transposeA: boolean, transposeB: boolean, threshold: number): boolean {
  const outerA = transposeA ? a[a.length - 1] : a[a.length - 2];
  const outerB = transposeB ? b[b.length - 2] : b[b.length - 1];
  const innerB = transposeB ? b[b.length - 1] : b[b.length - 2];
  const batch = Math.max(a.slice(0, -2).reduce((p, d) => p * d, 1), b.slice(0, -2).reduce((p, d) => p * d, 1));
  const workgroups = batch * Math.ceil(outerA / 32) * Math.ceil(outerB / 32);
  const fewWorkgroups = workgroups <= threshold || (outerA <= 8 && workgroups <= threshold * 2);
  return fewWorkgroups && batch * outerA * outerB > 128 && batch === 1 && innerB >= 2000;
}

function withoutBrokenSplitK(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
    const env = tf.env();
    const chosen = env.getNumber(PROGRAM_FLAG);
    const threshold = env.getNumber(THRESHOLD_FLAG) > 0
      ? env.getNumber(THRESHOLD_FLAG)
      : (args.backend as unknown as { thresholdToIncreaseWorkgroups: number }).thresholdToIncreaseWorkgroups;
    const broken = transposeB && (chosen === SPLIT_K || (chosen < 0 && tfjsPicksSplitK(a.shape, b.shape, transposeA, transposeB, threshold)));
    if (!broken) return original(args);
    env.set(PROGRAM_FLAG, PACKED);
    try {
      return original(args);
    } finally {
      env.set(PROGRAM_FLAG, chosen);
    }
  };
}

export function installWebGpuMatMul(): void {
  replaceKernel('BatchMatMul', 'webgpu', withoutBrokenSplitK);
  replaceKernel('_FusedMatMul', 'webgpu', withoutBrokenSplitK);
}
