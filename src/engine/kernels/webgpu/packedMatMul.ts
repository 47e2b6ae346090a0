// x · Wᵀ for a frozen weight held packed (16-bit, int8 or nf4; layout in packedWeight.ts) on webgpu,
// with its gradient with respect to x (W is frozen: it gets none).
//
// WHY our own kernels: tfjs multiplies float32 tensors only, so a packed weight would have to be
// widened into a float32 copy for every product: the memory the packing saves, spent again, plus a
// pass over it. These read the int32 words and widen each element in the shader (packedDecode.ts).
//
//   forward   y [M, N] = x [M, K] · dequant(W)ᵀ   M ≤ 8 (decoding): one workgroup per output column n,
//                                                  threads stride over K, M sums reduced at the end;
//                                                  M > 8: 64×64 output tiles, 16-deep slices of K in
//                                                  workgroup memory, 4×4 outputs per thread.
//   gradient dx [M, K] = dy [M, N] · dequant(W)    the same tiled program, W read untransposed.
//
// A weight larger than one storage binding is cut into blocks of whole rows (packedBlocks.ts); the
// forward concatenates the blocks' columns, the gradient sums their contributions.
import * as tf from '@tensorflow/tfjs-core';
import { PACKED_UNIFORMS, packedInputNames, packedUniformValues, weightReader } from './packedDecode';
import type { PackedKind, PackedWeight } from '../../packedWeight';
import { packedBlocks, type PackedBlock } from './packedBlocks';
import { registerWebGpuKernel, rowProgram, rowWorkgroupSize, runKernel, type WebGpuKernelFunc } from './program';

// Names of our own: packedMatMul.ts's backend-neutral FtunePackedMatMulT / FtunePackedMatMul take a
// whole weight, these one row block of it.
export const WEBGPU_PACKED_MATMUL_T = 'FtuneWebGpuPackedMatMulT';
const WEBGPU_PACKED_MATMUL = 'FtuneWebGpuPackedMatMul';

/** Most rows of x that take the matrix-vector program (decoding, a few sequences at a time). */
export const MATVEC_MAX_ROWS = 8;
const TILE = 64;
const TILE_DEPTH = 16;
const TILE_THREADS = 256;

interface BlockAttrs {
  kind: PackedKind;
  /** K, the columns of W. */
  kCols: number;
  /** rows of W in this block. */
  rows: number;
  /** gradient only: the block's first row, the column of dy its products start at. */
  start: number;
  flatBase: number;
  scaleBase: number;
}

/**
 * x [M, K] · dequant(w)ᵀ → [M, N] on the webgpu kernels, differentiable with respect to x. The engine's
 * projection op calls this when the backend is webgpu (useWebGpuKernel(WEBGPU_PACKED_MATMUL_T)).
 */
export function packedMatMulTWebGpu(x: tf.Tensor2D, w: PackedWeight): tf.Tensor2D {
  const [N, K] = w.shape;
  if (x.rank !== 2 || x.shape[1] !== K || x.dtype !== 'float32') {
    throw new Error(`${WEBGPU_PACKED_MATMUL_T}: x of shape [${x.shape.join(', ')}] (${x.dtype}) for a ${w.kind} weight [${N}, ${K}]: expected float32 [M, ${K}]`);
  }
  const blocks = packedBlocks(w);
  const run = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor2D;
    const parts = blocks.map((b) => runKernel<tf.Tensor2D>(WEBGPU_PACKED_MATMUL_T, { x: input, ...blockInputs(b) }, attrsOf(w, b)));
    return {
      value: parts.length === 1 ? parts[0] : (tf.concat(parts, 1) as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor) => productWithBlocks(dy as tf.Tensor2D, w, blocks),
    };
  });
  return run(x) as tf.Tensor2D;
}

/**
 * d [M, N] · dequant(w) → [M, K] on the webgpu kernels: the input gradient of packedMatMulTWebGpu, and
 * products such as probabilities · a packed lm_head (not differentiable itself).
 */
export function packedMatMulWebGpu(d: tf.Tensor2D, w: PackedWeight): tf.Tensor2D {
  const [N, K] = w.shape;
  if (d.rank !== 2 || d.shape[1] !== N || d.dtype !== 'float32') {
    throw new Error(`${WEBGPU_PACKED_MATMUL}: d of shape [${d.shape.join(', ')}] (${d.dtype}) for a ${w.kind} weight [${N}, ${K}]: expected float32 [M, ${N}]`);
  }
  return productWithBlocks(d, w, packedBlocks(w));
}

/** d · dequant(W), summed over the weight's row blocks; the blocks' products are freed here. */
function productWithBlocks(dy: tf.Tensor2D, w: PackedWeight, blocks: PackedBlock[]): tf.Tensor2D {
  return tf.tidy(() => {
    const parts = blocks.map((b) => runKernel<tf.Tensor2D>(WEBGPU_PACKED_MATMUL, { dy, ...blockInputs(b) }, attrsOf(w, b)));
    return parts.length === 1 ? parts[0] : (tf.addN(parts) as tf.Tensor2D);
  });
}

function blockInputs(b: PackedBlock): tf.NamedTensorMap {
  return b.scales ? { wd: b.data, ws: b.scales } : { wd: b.data };
}

function attrsOf(w: PackedWeight, b: PackedBlock): tf.NamedAttrMap {
  const attrs: BlockAttrs = { kind: w.kind, kCols: w.shape[1], rows: b.rows, start: b.start, flatBase: b.flatBase, scaleBase: b.scaleBase };
  return attrs as unknown as tf.NamedAttrMap;
}

/** The kernel's inputs in the program's binding order: `first` (x or dy), then the weight's tensors. */
function bindings(inputs: tf.NamedTensorInfoMap, first: string, kind: PackedKind): tf.TensorInfo[] {
  return [first, ...packedInputNames(kind)].map((name) => {
    const info = inputs[name];
    if (!info) throw new Error(`${WEBGPU_PACKED_MATMUL_T}: input ${name} missing for a ${kind} weight`);
    return info;
  });
}

/** The uniforms every packed program declares (`M`, `P`, `Q`, `aStride`, `aOffset`, then packedDecode's). */
const UNIFORMS = `M : i32, P : i32, Q : i32, aStride : i32, aOffset : i32, ${PACKED_UNIFORMS}`;

function uniformValues(M: number, P: number, Q: number, aStride: number, aOffset: number, a: BlockAttrs) {
  return [
    ...[M, P, Q, aStride, aOffset].map((v) => ({ type: 'int32' as const, data: [v] })),
    ...packedUniformValues(a.kind, a.kCols, a.flatBase, a.scaleBase),
  ];
}

const forwardKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as BlockAttrs;
  const infos = bindings(inputs, 'x', a.kind);
  const [M, K] = infos[0].shape;
  const N = a.rows;
  const names = ['a', ...packedInputNames(a.kind)];
  const program = M <= MATVEC_MAX_ROWS
    ? matVecProgram(a.kind, names, M, N, K)
    : tiledProgram(a.kind, names, M, N, K, false);
  return backend.runWebGPUProgram(program, infos, 'float32', uniformValues(M, N, K, K, 0, a));
};

const gradKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as BlockAttrs;
  const infos = bindings(inputs, 'dy', a.kind);
  const [M, fullN] = infos[0].shape;
  const names = ['a', ...packedInputNames(a.kind)];
  const program = tiledProgram(a.kind, names, M, a.kCols, a.rows, true);
  return backend.runWebGPUProgram(program, infos, 'float32', uniformValues(M, a.kCols, a.rows, fullN, a.start, a));
};

/**
 * y [M, N] for M ≤ 8: workgroup n reads row n of W once (threads stride over K, adjacent threads
 * adjacent elements), multiplies it with every row of x, and reduces the M sums.
 */
function matVecProgram(kind: PackedKind, names: string[], M: number, N: number, K: number) {
  const wg = rowWorkgroupSize(K);
  return rowProgram(`ftune_packed_matvec_${kind}`, names, [M, N], N, wg, UNIFORMS, () => `
    ${weightReader(kind)}
    fn main(index : i32) {
      let n = workgroupIndex();
      let tid = i32(localId.x);
      let valid = n < uniforms.P;
      var acc : array<f32, ${MATVEC_MAX_ROWS}>;
      if (valid) {
        for (var k = tid; k < uniforms.Q; k += ${wg}) {
          let w = wAt(n, k);
          for (var m = 0; m < uniforms.M; m++) { acc[m] += a[m * uniforms.aStride + k] * w; }
        }
      }
      for (var m = 0; m < uniforms.M; m++) {
        let total = ftSum(acc[m]);
        if (valid && tid == 0) { result[m * uniforms.P + n] = total; }
      }
    }`);
}

/**
 * C [M, P] = A [M, Q] · B, B (q, p) = W[p, q] (forward: P = N, Q = K) or W[q, p] (gradient: P = K,
 * Q = the block's rows, A = dy from column aOffset). One workgroup per 64×64 tile of C.
 */
function tiledProgram(kind: PackedKind, names: string[], M: number, P: number, Q: number, gradient: boolean) {
  const tiles = Math.ceil(M / TILE) * Math.ceil(P / TILE);
  const perThread = (TILE * TILE_DEPTH) / TILE_THREADS; // elements of each slice one thread loads
  // B's slice [TILE_DEPTH q][TILE p]: threads walk W's contiguous axis (k), q forward, p in the gradient.
  const loadB = gradient
    ? `let bp = p0 + e % ${TILE}; let bq = q0 + e / ${TILE};
       var bv = 0.0;
       if (bp < uniforms.P && bq < uniforms.Q) { bv = wAt(bq, bp); }
       Bs[(e / ${TILE}) * ${TILE} + e % ${TILE}] = bv;`
    : `let bp = p0 + e / ${TILE_DEPTH}; let bq = q0 + e % ${TILE_DEPTH};
       var bv = 0.0;
       if (bp < uniforms.P && bq < uniforms.Q) { bv = wAt(bp, bq); }
       Bs[(e % ${TILE_DEPTH}) * ${TILE} + e / ${TILE_DEPTH}] = bv;`;
  return rowProgram(`ftune_packed_${gradient ? 'dx' : 'tiled'}_${kind}`, names, [M, P], tiles, TILE_THREADS, UNIFORMS, () => `
    ${weightReader(kind)}
    var<workgroup> As : array<f32, ${TILE * TILE_DEPTH}>;
    var<workgroup> Bs : array<f32, ${TILE_DEPTH * TILE}>;
    fn main(index : i32) {
      let tile = workgroupIndex();
      let tilesP = (uniforms.P + ${TILE - 1}) / ${TILE};
      let m0 = (tile / tilesP) * ${TILE};
      let p0 = (tile % tilesP) * ${TILE};
      let tid = i32(localId.x);
      let tm = (tid / ${TILE / 4}) * 4;
      let tp = (tid % ${TILE / 4}) * 4;
      var acc : array<vec4<f32>, 4>;
      for (var q0 = 0; q0 < uniforms.Q; q0 += ${TILE_DEPTH}) {
        for (var i = 0; i < ${perThread}; i++) {
          let e = tid + i * ${TILE_THREADS};
          let am = m0 + e / ${TILE_DEPTH}; let aq = q0 + e % ${TILE_DEPTH};
          var av = 0.0;
          if (am < uniforms.M && aq < uniforms.Q) { av = a[am * uniforms.aStride + uniforms.aOffset + aq]; }
          As[e] = av;
          ${loadB}
        }
        workgroupBarrier();
        for (var q = 0; q < ${TILE_DEPTH}; q++) {
          let b = vec4<f32>(Bs[q * ${TILE} + tp], Bs[q * ${TILE} + tp + 1], Bs[q * ${TILE} + tp + 2], Bs[q * ${TILE} + tp + 3]);
          for (var r = 0; r < 4; r++) { acc[r] += As[(tm + r) * ${TILE_DEPTH} + q] * b; }
        }
        workgroupBarrier();
      }
      for (var r = 0; r < 4; r++) {
        let m = m0 + tm + r;
        for (var c = 0; c < 4; c++) {
          let p = p0 + tp + c;
          if (m < uniforms.M && p < uniforms.P) { result[m * uniforms.P + p] = acc[r][c]; }
        }
      }
    }`);
}

export function installWebGpuPackedMatMul(): void {
  registerWebGpuKernel(WEBGPU_PACKED_MATMUL_T, forwardKernel);
  registerWebGpuKernel(WEBGPU_PACKED_MATMUL, gradKernel);
}
