// Rows of a packed weight widened to a float32 tensor on webgpu: packedMatMul.ts's FtunePackedDequantize
// (inputs data, scales; attrs kind, N, K, rowStart, rows), the composite reference and what exports
// and FTUNE_WEBGPU_FUSED=0 fall back to. The products themselves never widen a weight into memory
// (packedMatMul.ts in this folder); this binds the whole weight, so the device's guard refuses a weight
// over one binding with its shape instead of computing zeros.
import { PACKED_DEQUANTIZE } from '../wasm/packedKernels';
import type { PackedKind } from '../../packedWeight';
import { PACKED_UNIFORMS, packedInputNames, packedUniformValues, weightReader } from './packedDecode';
import { elementwiseProgram, registerWebGpuKernel, type WebGpuKernelFunc } from './program';

export { PACKED_DEQUANTIZE };

interface DequantizeAttrs {
  kind: PackedKind;
  N: number;
  K: number;
  rowStart: number;
  rows: number;
}

const dequantizeKernel: WebGpuKernelFunc = ({ inputs, backend, attrs }) => {
  const { kind, N, K, rowStart, rows } = attrs as unknown as DequantizeAttrs;
  if (rowStart < 0 || rows < 0 || rowStart + rows > N) throw new Error(`${PACKED_DEQUANTIZE}: rows [${rowStart}, ${rowStart + rows}) of a [${N}, ${K}] weight`);
  // packedMatMul.ts names the weight's tensors data / scales; the WGSL reader calls them wd / ws
  const infos = [inputs.data, inputs.scales].slice(0, packedInputNames(kind).length).map((info, i) => {
    if (!info) throw new Error(`${PACKED_DEQUANTIZE}: ${i === 0 ? 'data' : 'scales'} missing for a ${kind} weight`);
    return info;
  });
  const program = elementwiseProgram(`ftune_packed_dequantize_${kind}`, packedInputNames(kind), [rows, K], rows * K,
    `total : i32, rowStart : i32, ${PACKED_UNIFORMS}`, `
    ${weightReader(kind)}
    fn main(index : i32) {
      if (index < uniforms.total) { result[index] = wAt(uniforms.rowStart + index / uniforms.kCols, index % uniforms.kCols); }
    }`);
  return backend.runWebGPUProgram(program, infos, 'float32', [
    { type: 'int32', data: [rows * K] }, { type: 'int32', data: [rowStart] }, ...packedUniformValues(kind, K, 0, 0),
  ]);
};

export function installWebGpuPackedDequantize(): void {
  registerWebGpuKernel(PACKED_DEQUANTIZE, dequantizeKernel);
}
