// AddN for tfjs-backend-webgpu (4.x) with any number of inputs.
//
// WHY: the stock kernel binds every input as a storage buffer of one shader; past the device's
// maxStorageBuffersPerShaderStage (8 on many GPUs and on lavapipe) pipeline creation fails and the
// result is garbage (e.g. the global gradient norm over dozens of LoRA matrices). Sum groups that fit,
// then sum the partial sums.
import * as tf from '@tensorflow/tfjs-core';
import { replaceKernel } from '../replace';

interface WebGpuBackend {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: tf.DataId): boolean;
}

export function installWebGpuAddN(): void {
  replaceKernel('AddN', 'webgpu', (original) => {
    const addN = (args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      const backend = args.backend as unknown as WebGpuBackend;
      const group = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1); // one binding is the output
      if (inputs.length <= group) return original(args) as tf.TensorInfo;
      const partials: tf.TensorInfo[] = [];
      try {
        for (let i = 0; i < inputs.length; i += group) {
          const part = inputs.slice(i, i + group);
          partials.push(part.length === 1 ? part[0] : (original({ ...args, inputs: part as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo));
        }
        return addN({ ...args, inputs: partials as unknown as tf.NamedTensorInfoMap });
      } finally {
        for (const p of partials) if (!inputs.includes(p)) backend.disposeData(p.dataId);
      }
    };
    return addN as unknown as tf.KernelFunc;
  });
}
