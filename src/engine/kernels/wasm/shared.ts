// Identity and same-dtype Cast for tfjs-backend-wasm that share the input's memory instead of copying.
//
// WHY: tfjs's engine clones (Identity) every tensor it saves for the backward pass, and the mul
// gradient casts float32 to float32. The wasm backend (4.x) implements both as full copies, so every
// saved activation existed twice on the 4 GiB heap, and the copies cost time. The cpu and webgl
// backends share the buffer (reference count) instead; tensors are immutable in tfjs — variables
// swap their buffer on assign() — so sharing is safe here too.
import * as tf from '@tensorflow/tfjs-core';
import { replaceKernel } from '../replace';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

function share(x: tf.TensorInfo, backend: RefCountingBackend): tf.TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function installWasmSharing(): void {
  replaceKernel('Identity', 'wasm', (original) => (args) => {
    const { inputs, backend } = args as unknown as { inputs: { x: tf.TensorInfo }; backend: RefCountingBackend };
    if (inputs.x.dtype === 'string') return original(args);
    return share(inputs.x, backend);
  });
  replaceKernel('Cast', 'wasm', (original) => (args) => {
    const { inputs, backend, attrs } = args as unknown as { inputs: { x: tf.TensorInfo }; backend: RefCountingBackend; attrs: { dtype: tf.DataType } };
    if (inputs.x.dtype !== attrs.dtype) return original(args);
    return share(inputs.x, backend);
  });
}
