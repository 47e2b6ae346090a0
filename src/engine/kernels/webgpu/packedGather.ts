// Rows of a packed frozen matrix, widened to float32, on webgpu: the embedding lookup of a 16-bit
// table (issue 18: embeddings stay 16-bit, as the checkpoint stores them).
//
// WHY a kernel: tf.gather of the int32 words would bind the whole table (Qwen2.5-0.5B's [151936, 896]
// is 260 MiB in 16 bits, over the 128 MiB a binding may hold) and leave the widening to another pass.
// Here each row block of the table (packedBlocks.ts) widens the ids it holds and keeps what the
// blocks before it wrote for the others: one dispatch per block, every output element written once.
import * as tf from '@tensorflow/tfjs-core';
import type { PackedKind, PackedWeight } from '../../packedWeight';
import { packedBlocks, type PackedBlock } from './packedBlocks';
import { PACKED_UNIFORMS, packedInputNames, packedUniformValues, weightReader } from './packedDecode';
import { elementwiseProgram, registerWebGpuKernel, runKernel, type WebGpuKernelFunc } from './program';

export const WEBGPU_PACKED_GATHER = 'FtuneWebGpuPackedGather';

interface GatherAttrs {
  kind: PackedKind;
  kCols: number;
  start: number;
  rows: number;
  flatBase: number;
  scaleBase: number;
}

/** dequant(w)[ids] → [ids, K] (ids int32 or float32 holding integers; an id outside [0, N) gives a zero row). */
export function gatherPackedRowsWebGpu(w: PackedWeight, ids: tf.Tensor1D): tf.Tensor2D {
  const blocks = packedBlocks(w);
  return tf.tidy(() => {
    const intIds = ids.dtype === 'int32' ? ids : tf.cast(ids, 'int32');
    let out: tf.Tensor2D | undefined;
    for (const b of blocks) out = runKernel<tf.Tensor2D>(WEBGPU_PACKED_GATHER, gatherInputs(intIds, b, out), attrsOf(w, b));
    return out as tf.Tensor2D;
  });
}

function gatherInputs(ids: tf.Tensor, b: PackedBlock, previous: tf.Tensor | undefined): tf.NamedTensorMap {
  const inputs: tf.NamedTensorMap = { ids, wd: b.data };
  if (b.scales) inputs.ws = b.scales;
  if (previous) inputs.prev = previous;
  return inputs;
}

function attrsOf(w: PackedWeight, b: PackedBlock): tf.NamedAttrMap {
  const attrs: GatherAttrs = { kind: w.kind, kCols: w.shape[1], start: b.start, rows: b.rows, flatBase: b.flatBase, scaleBase: b.scaleBase };
  return attrs as unknown as tf.NamedAttrMap;
}

const gatherKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as GatherAttrs;
  const names = ['ids', ...packedInputNames(a.kind), ...(inputs.prev ? ['prev'] : [])];
  const infos = names.map((name) => {
    const info = inputs[name];
    if (!info) throw new Error(`${WEBGPU_PACKED_GATHER}: input ${name} missing for a ${a.kind} weight`);
    return info;
  });
  const count = infos[0].shape[0];
  const K = a.kCols;
  const keep = inputs.prev ? 'prev[index]' : '0.0';
  const program = elementwiseProgram(`ftune_packed_gather_${a.kind}_${inputs.prev ? 'next' : 'first'}`, names, [count, K], count * K,
    `total : i32, start : i32, rows : i32, ${PACKED_UNIFORMS}`, `
    ${weightReader(a.kind)}
    fn main(index : i32) {
      if (index >= uniforms.total) { return; }
      let row = ids[index / uniforms.kCols] - uniforms.start;
      var v = ${keep};
      if (row >= 0 && row < uniforms.rows) { v = wAt(row, index % uniforms.kCols); }
      result[index] = v;
    }`);
  const uniforms = [
    ...[count * K, a.start, a.rows].map((v) => ({ type: 'int32' as const, data: [v] })),
    ...packedUniformValues(a.kind, K, a.flatBase, a.scaleBase),
  ];
  return backend.runWebGPUProgram(program, infos, 'float32', uniforms);
};

export function installWebGpuPackedGather(): void {
  registerWebGpuKernel(WEBGPU_PACKED_GATHER, gatherKernel);
}
