// Fused scaled-dot-product attention for the webgpu backend (flash-attention style, grouped-query):
//   O = softmax(scale·q·kᵀ + mask)·v, written directly as [B, T, H, hd] (the merge transpose folded in).
//
// WHY: the composite is scale mul, batched matmul, add mask + softmax, batched matmul and a transpose
// (4–5 dispatches) and keeps the [B, H, T, S] probabilities for the backward pass, which then runs 4
// batched matmuls, the softmax gradient, the scale and the transpose again. Fused: 1 dispatch forward
// with nothing saved but q, k, v and O (memory O(T) per row instead of O(T·S)); backward 4 dispatches
// (row statistics, dq, dk, dv) that recompute the probabilities tile by tile.
//
// Each thread owns one query row (forward, dq) or one key row (dk, dv), read as vec4s; its workgroup
// walks the other side in tiles staged in workgroup memory. Online softmax: the running max m and sum l
// rescale the accumulator when the max grows, so no score row is ever stored. With a purely causal mask
// (no key padding) the keys after each query are skipped, not added −1e9 to: half the work, same numbers.
//
// Shapes: q [B, H, T, hd] (rotated, unscaled), k and v [B, K, S, hd] with H = R·K (query head h reads kv
// head h / R), mask additive [1 | B, 1, T, S]. Backward, per query row: m, 1/l and delta = Σ dO·O;
// P = exp(score − m)/l, dP = dO·vᵀ, dS = P∘(dP − delta), dq = scale·dS·k, dk = dSᵀ·q·scale, dv = Pᵀ·dO
// (dk and dv summed over the R query heads of their kv head). WHY m and 1/l rather than
// lse = m + log l: a row whose keys are all masked has m ≈ −1e9, where adding log l is lost to rounding.
import * as tf from '@tensorflow/tfjs-core';
import { LOWEST, registerWebGpuKernel, runKernel, type WebGpuKernelFunc, type WebGpuProgram } from './program';

export const ATTENTION = 'FtuneAttention';
const ATTENTION_STATS = 'FtuneAttentionStats';
const ATTENTION_DQ = 'FtuneAttentionGradQ';
const ATTENTION_DK = 'FtuneAttentionGradK';
const ATTENTION_DV = 'FtuneAttentionGradV';

/** Rows (threads) per workgroup. */
const WG = 64;
/** head_dim above this keeps the composite (each thread holds up to 3 rows of hd floats). */
const MAX_HEAD_DIM = 256;

/** True when the kernels take these shapes: q [B, H, T, hd], k = v [B, K, S, hd], mask [1 | B, 1, T, S], hd a multiple of 4. */
export function attentionFits(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor): boolean {
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4 || mask.rank !== 4) return false;
  const [B, H, T, hd] = q.shape, [kb, K, S, khd] = k.shape, [mb, mh, mt, ms] = mask.shape;
  return hd % 4 === 0 && hd <= MAX_HEAD_DIM && kb === B && khd === hd && K > 0 && H % K === 0 && v.shape.join() === k.shape.join()
    && (mb === 1 || mb === B) && mh === 1 && mt === T && ms === S && mask.dtype === 'float32';
}

/**
 * softmax(scale·q·kᵀ + mask)·v as [B, T, H, hd], differentiable with respect to q, k and v.
 * `causal`: the caller promises that `mask` hides every key s > S − T + t from query t (the model's
 * causal mask without key padding); the kernels then skip those keys instead of adding −1e9 to them,
 * which gives the same numbers (their weight is exactly 0 in f32) for half the work.
 */
export function attentionWebGpu(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor, scale: number, causal = false): tf.Tensor4D {
  if (!attentionFits(q, k, v, mask)) {
    throw new Error(`${ATTENTION}: q [${q.shape.join(', ')}], k/v [${k.shape.join(', ')}], mask [${mask.shape.join(', ')}] do not fit`);
  }
  return runKernel<tf.Tensor4D>(ATTENTION, { q, k, v, mask }, { scale, causal });
}

interface Dims { B: number; H: number; K: number; T: number; S: number; hd: number; maskBatched: boolean }

function dims(q: tf.TensorInfo, k: tf.TensorInfo, mask: tf.TensorInfo): Dims {
  const [B, H, T, hd] = q.shape;
  return { B, H, K: k.shape[1], T, S: k.shape[2], hd, maskBatched: mask.shape[0] !== 1 };
}

/** Keys (or queries) per tile in workgroup memory: two tiles of tile·hd floats stay within 8 KiB. */
function tileRows(hd: number): number {
  return Math.max(1, Math.min(16, Math.floor(1024 / hd)));
}

const UNIFORMS = 'batch : i32, heads : i32, kvHeads : i32, queries : i32, keys : i32, blocks : i32, maskBatchStride : i32, causal : i32, scale : f32,';

function uniformData(d: Dims, blocks: number, attrs: tf.NamedAttrMap | undefined) {
  const { scale, causal } = attrs as { scale: number; causal: boolean };
  return [
    ...[d.B, d.H, d.K, d.T, d.S, blocks, d.maskBatched ? d.T * d.S : 0, causal ? 1 : 0].map((v) => ({ type: 'int32' as const, data: [v] })),
    { type: 'float32' as const, data: [scale] },
  ];
}

/**
 * Rows of hd floats are read and written as hd/4 vec4s (`vec4Inputs` names the inputs bound as
 * array<vec4<f32>>; the output is too unless `scalarOutput`). HD4 = hd / 4, TILE = rows per tile.
 */
function program(name: string, variableNames: string[], vec4Inputs: string[], outputShape: number[], workgroups: number, hd: number, body: string, scalarOutput = false): WebGpuProgram {
  return {
    variableNames,
    variableComponents: variableNames.map((n) => (vec4Inputs.includes(n) ? 4 : 1)),
    outputComponent: scalarOutput ? 1 : 4,
    outputShape,
    shaderKey: `${name}_${hd}`,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [workgroups, 1, 1],
    workgroupSize: [WG, 1, 1],
    uniforms: UNIFORMS,
    getUserCode: () => `
      const HD4 : i32 = ${hd / 4};
      const TILE : i32 = ${tileRows(hd)};
      const WG : i32 = ${WG};
      fn workgroupIndex() -> i32 {
        return i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x);
      }
      ${body}`,
  };
}

/**
 * Query-row kernels (forward, statistics, dq): workgroup = WG consecutive queries t of one (b, h);
 * each thread holds its query row, scaled, in qs (vec4 offsets: qBase into q, oBase into O / dO).
 */
function queryRowPrologue(hd: number): string {
  return `
      let wgi = workgroupIndex();
      let tid = i32(localId.x);
      let bh = wgi / uniforms.blocks;
      let t = (wgi % uniforms.blocks) * WG + tid;
      let groupValid = bh < uniforms.batch * uniforms.heads;
      let valid = groupValid && t < uniforms.queries;
      let b = bh / uniforms.heads;
      let h = bh % uniforms.heads;
      let kvh = h / (uniforms.heads / uniforms.kvHeads);
      let S = uniforms.keys;
      let kvBase = (b * uniforms.kvHeads + kvh) * S * HD4;
      let qBase = (bh * uniforms.queries + t) * HD4;
      let oBase = ((b * uniforms.queries + t) * uniforms.heads + h) * HD4; // [B, T, H, hd]
      let maskBase = b * uniforms.maskBatchStride + t * S;
      // causal: query t sees keys up to past + t (past = S − T); the workgroup's tiles stop at its last query's.
      let past = S - uniforms.queries;
      let tLast = min(uniforms.queries - 1, (wgi % uniforms.blocks) * WG + WG - 1);
      var limit = S;
      var groupLimit = S;
      if (uniforms.causal != 0) {
        limit = min(S, past + t + 1);
        groupLimit = min(S, past + tLast + 1);
      }
      if (tid == 0) { ftBound = groupLimit; }
      let keyEnd = workgroupUniformLoad(&ftBound);
      var qs : array<vec4<f32>, ${hd / 4}>;
      for (var d = 0; d < HD4; d++) {
        var value = vec4<f32>(0.0);
        if (valid) { value = q[qBase + d] * uniforms.scale; }
        qs[d] = value;
      }`;
}

/**
 * Walks the keys in tiles staged in kTile (and vTile when `withV`); `perKey` runs for key s0 + j with
 * `score` = scale·q·k + mask. Barriers stay in uniform control flow: every thread loads, valid or not.
 */
function keyTileLoop(withV: boolean, perKey: string): string {
  return `
      for (var s0 = 0; s0 < keyEnd; s0 += TILE) {
        for (var i = tid; i < TILE * HD4; i += WG) {
          let s = s0 + i / HD4;
          var kv = vec4<f32>(0.0);
          ${withV ? 'var vv = vec4<f32>(0.0);' : ''}
          if (groupValid && s < S) {
            kv = k[kvBase + s * HD4 + i % HD4];
            ${withV ? 'vv = v[kvBase + s * HD4 + i % HD4];' : ''}
          }
          kTile[i] = kv;
          ${withV ? 'vTile[i] = vv;' : ''}
        }
        workgroupBarrier();
        if (valid) {
          let n = min(TILE, limit - s0);
          for (var j = 0; j < n; j++) {
            var score = 0.0;
            for (var d = 0; d < HD4; d++) { score += dot(qs[d], kTile[j * HD4 + d]); }
            score += mask[maskBase + s0 + j];
            ${perKey}
          }
        }
        workgroupBarrier();
      }`;
}

function keyTiles(withV: boolean, hd: number): string {
  const size = (tileRows(hd) * hd) / 4;
  return `var<workgroup> ftBound : i32;\nvar<workgroup> kTile : array<vec4<f32>, ${size}>;\n${withV ? `var<workgroup> vTile : array<vec4<f32>, ${size}>;` : ''}`;
}

const forwardKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { q, k, v, mask } = inputs as Record<'q' | 'k' | 'v' | 'mask', tf.TensorInfo>;
  const d = dims(q, k, mask);
  const blocks = Math.ceil(d.T / WG);
  const body = `
    ${keyTiles(true, d.hd)}
    fn main(index : i32) {
      ${queryRowPrologue(d.hd)}
      var acc : array<vec4<f32>, ${d.hd / 4}>;
      for (var d = 0; d < HD4; d++) { acc[d] = vec4<f32>(0.0); }
      var m = ${LOWEST};
      var l = 0.0;
      ${keyTileLoop(true, `
            if (score > m) {
              let c = exp(m - score);
              l = l * c + 1.0;
              for (var d = 0; d < HD4; d++) { acc[d] = acc[d] * c + vTile[j * HD4 + d]; }
              m = score;
            } else {
              let p = exp(score - m);
              l += p;
              for (var d = 0; d < HD4; d++) { acc[d] += p * vTile[j * HD4 + d]; }
            }`)}
      if (valid) {
        for (var d = 0; d < HD4; d++) { result[oBase + d] = acc[d] / l; }
      }
    }`;
  const prog = program('ftune_attention', ['q', 'k', 'v', 'mask'], ['q', 'k', 'v'], [d.B, d.T, d.H, d.hd], d.B * d.H * blocks, d.hd, body);
  return backend.runWebGPUProgram(prog, [q, k, v, mask], 'float32', uniformData(d, blocks, attrs));
};

/** Per query row: m and 1/l of its scores, delta = Σ dO·O. Output [B, H, T, 3]. */
const statsKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { q, k, mask, o, dy } = inputs as Record<'q' | 'k' | 'mask' | 'o' | 'dy', tf.TensorInfo>;
  const d = dims(q, k, mask);
  const blocks = Math.ceil(d.T / WG);
  const body = `
    ${keyTiles(false, d.hd)}
    fn main(index : i32) {
      ${queryRowPrologue(d.hd)}
      var m = ${LOWEST};
      var l = 0.0;
      ${keyTileLoop(false, `
            if (score > m) { l = l * exp(m - score) + 1.0; m = score; } else { l += exp(score - m); }`)}
      if (valid) {
        var delta = 0.0;
        for (var d = 0; d < HD4; d++) { delta += dot(dy[oBase + d], o[oBase + d]); }
        let r = (bh * uniforms.queries + t) * 3;
        result[r] = m;
        result[r + 1] = 1.0 / l;
        result[r + 2] = delta;
      }
    }`;
  const prog = program('ftune_attention_stats', ['q', 'k', 'mask', 'o', 'dy'], ['q', 'k', 'o', 'dy'], [d.B, d.H, d.T, 3], d.B * d.H * blocks, d.hd, body, true);
  return backend.runWebGPUProgram(prog, [q, k, mask, o, dy], 'float32', uniformData(d, blocks, attrs));
};

/** dq = scale·Σ_s dS·k_s per query row. */
const dqKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { q, k, v, mask, dy, stats } = inputs as Record<'q' | 'k' | 'v' | 'mask' | 'dy' | 'stats', tf.TensorInfo>;
  const d = dims(q, k, mask);
  const blocks = Math.ceil(d.T / WG);
  const body = `
    ${keyTiles(true, d.hd)}
    fn main(index : i32) {
      ${queryRowPrologue(d.hd)}
      var g : array<vec4<f32>, ${d.hd / 4}>;
      var acc : array<vec4<f32>, ${d.hd / 4}>;
      var m = 0.0;
      var linv = 0.0;
      var delta = 0.0;
      for (var d = 0; d < HD4; d++) {
        acc[d] = vec4<f32>(0.0);
        var value = vec4<f32>(0.0);
        if (valid) { value = dy[oBase + d]; }
        g[d] = value;
      }
      if (valid) {
        let r = (bh * uniforms.queries + t) * 3;
        m = stats[r];
        linv = stats[r + 1];
        delta = stats[r + 2];
      }
      ${keyTileLoop(true, `
            let p = exp(score - m) * linv;
            var dp = 0.0;
            for (var d = 0; d < HD4; d++) { dp += dot(g[d], vTile[j * HD4 + d]); }
            let ds = p * (dp - delta);
            for (var d = 0; d < HD4; d++) { acc[d] += ds * kTile[j * HD4 + d]; }`)}
      if (valid) {
        for (var d = 0; d < HD4; d++) { result[qBase + d] = acc[d] * uniforms.scale; }
      }
    }`;
  const prog = program('ftune_attention_dq', ['q', 'k', 'v', 'mask', 'dy', 'stats'], ['q', 'k', 'v', 'dy'], q.shape, d.B * d.H * blocks, d.hd, body);
  return backend.runWebGPUProgram(prog, [q, k, v, mask, dy, stats], 'float32', uniformData(d, blocks, attrs));
};

/**
 * Key-row kernels: workgroup = WG consecutive keys s of one (b, kv head); the R query heads of that kv
 * head and their queries are walked in tiles (scaled q rows, dO rows, and m, 1/l, delta).
 *   dk_s = Σ_t dS_ts·(scale·q_t)      dv_s = Σ_t P_ts·dO_t
 */
function keyRowKernel(which: 'dk' | 'dv'): WebGpuKernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { q, k, v, mask, dy, stats } = inputs as Record<'q' | 'k' | 'v' | 'mask' | 'dy' | 'stats', tf.TensorInfo>;
    const d = dims(q, k, mask);
    const blocks = Math.ceil(d.S / WG);
    const size = (tileRows(d.hd) * d.hd) / 4;
    const dk = which === 'dk';
    const body = `
    var<workgroup> qTile : array<vec4<f32>, ${size}>;
    var<workgroup> gTile : array<vec4<f32>, ${size}>;
    var<workgroup> sTile : array<f32, ${3 * tileRows(d.hd)}>;
    var<workgroup> ftBound : i32;
    fn main(index : i32) {
      let wgi = workgroupIndex();
      let tid = i32(localId.x);
      let bk = wgi / uniforms.blocks;
      let s = (wgi % uniforms.blocks) * WG + tid;
      let groupValid = bk < uniforms.batch * uniforms.kvHeads;
      let valid = groupValid && s < uniforms.keys;
      let b = bk / uniforms.kvHeads;
      let kvh = bk % uniforms.kvHeads;
      let R = uniforms.heads / uniforms.kvHeads;
      let T = uniforms.queries;
      let S = uniforms.keys;
      let rowBase = (bk * S + s) * HD4;
      // causal: key s is seen by queries from s − past on; the workgroup's tiles start at its first key's.
      let past = S - T;
      var first = 0;
      var groupFirst = 0;
      if (uniforms.causal != 0) {
        first = max(0, s - past);
        groupFirst = max(0, (wgi % uniforms.blocks) * WG - past);
      }
      if (tid == 0) { ftBound = (groupFirst / TILE) * TILE; }
      let queryStart = workgroupUniformLoad(&ftBound);
      var ks : array<vec4<f32>, ${d.hd / 4}>;
      ${dk ? `var vs : array<vec4<f32>, ${d.hd / 4}>;` : ''}
      var acc : array<vec4<f32>, ${d.hd / 4}>;
      for (var d = 0; d < HD4; d++) {
        acc[d] = vec4<f32>(0.0);
        var kv = vec4<f32>(0.0);
        ${dk ? 'var vv = vec4<f32>(0.0);' : ''}
        if (valid) {
          kv = k[rowBase + d];
          ${dk ? 'vv = v[rowBase + d];' : ''}
        }
        ks[d] = kv;
        ${dk ? 'vs[d] = vv;' : ''}
      }
      for (var r = 0; r < R; r++) {
        let h = kvh * R + r;
        let bh = b * uniforms.heads + h;
        for (var t0 = queryStart; t0 < T; t0 += TILE) {
          for (var i = tid; i < TILE * HD4; i += WG) {
            let t = t0 + i / HD4;
            var qv = vec4<f32>(0.0);
            var gv = vec4<f32>(0.0);
            if (groupValid && t < T) {
              qv = q[(bh * T + t) * HD4 + i % HD4] * uniforms.scale;
              gv = dy[((b * T + t) * uniforms.heads + h) * HD4 + i % HD4];
            }
            qTile[i] = qv;
            gTile[i] = gv;
          }
          for (var i = tid; i < 3 * TILE; i += WG) {
            let t = t0 + i / 3;
            var sv = 0.0;
            if (groupValid && t < T) { sv = stats[(bh * T + t) * 3 + i % 3]; }
            sTile[i] = sv;
          }
          workgroupBarrier();
          if (valid) {
            let n = min(TILE, T - t0);
            for (var j = max(0, first - t0); j < n; j++) {
              var score = 0.0;
              for (var d = 0; d < HD4; d++) { score += dot(qTile[j * HD4 + d], ks[d]); }
              score += mask[b * uniforms.maskBatchStride + (t0 + j) * S + s];
              let p = exp(score - sTile[3 * j]) * sTile[3 * j + 1];
              ${dk ? `
              var dp = 0.0;
              for (var d = 0; d < HD4; d++) { dp += dot(gTile[j * HD4 + d], vs[d]); }
              let ds = p * (dp - sTile[3 * j + 2]);
              for (var d = 0; d < HD4; d++) { acc[d] += ds * qTile[j * HD4 + d]; }` : `
              for (var d = 0; d < HD4; d++) { acc[d] += p * gTile[j * HD4 + d]; }`}
            }
          }
          workgroupBarrier();
        }
      }
      if (valid) {
        for (var d = 0; d < HD4; d++) { result[rowBase + d] = acc[d]; }
      }
    }`;
    // A binding the shader does not read is not in its layout: v only for dk.
    const names = dk ? ['q', 'k', 'v', 'mask', 'dy', 'stats'] : ['q', 'k', 'mask', 'dy', 'stats'];
    const prog = program(`ftune_attention_${which}`, names, ['q', 'k', 'v', 'dy'], k.shape, d.B * d.K * blocks, d.hd, body);
    return backend.runWebGPUProgram(prog, dk ? [q, k, v, mask, dy, stats] : [q, k, mask, dy, stats], 'float32', uniformData(d, blocks, attrs));
  };
}

export function installWebGpuAttention(): void {
  registerWebGpuKernel(ATTENTION, forwardKernel);
  registerWebGpuKernel(ATTENTION_STATS, statsKernel);
  registerWebGpuKernel(ATTENTION_DQ, dqKernel);
  registerWebGpuKernel(ATTENTION_DK, keyRowKernel('dk'));
  registerWebGpuKernel(ATTENTION_DV, keyRowKernel('dv'));
  if (!tf.getGradient(ATTENTION)) {
    tf.registerGradient({
      kernelName: ATTENTION,
      inputsToSave: ['q', 'k', 'v', 'mask'],
      outputsToSave: [true],
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const [q, k, v, mask, o] = saved;
        const g = dy as tf.Tensor;
        const kernelAttrs = { scale: attrs.scale as number, causal: attrs.causal as boolean };
        // Shared by the three gradients, computed once here (the engine frees it with the backward pass).
        const stats = runKernel<tf.Tensor>(ATTENTION_STATS, { q, k, mask, o, dy: g }, kernelAttrs);
        const inputs = { q, k, v, mask, dy: g, stats };
        return {
          q: () => runKernel<tf.Tensor>(ATTENTION_DQ, inputs, kernelAttrs),
          k: () => runKernel<tf.Tensor>(ATTENTION_DK, inputs, kernelAttrs),
          v: () => runKernel<tf.Tensor>(ATTENTION_DV, inputs, kernelAttrs),
          mask: () => {
            throw new Error(`${ATTENTION}: no gradient with respect to the attention mask`);
          },
        };
      },
    });
  }
}
