// Stand-in for `onnxruntime-node` in the bundled CLI. @huggingface/transformers loads it at start-up
// to run ONNX models; Finetune Studio trains and generates with TensorFlow.js and only uses the
// tokenizers, so the native runtime (tens of MB) is left out and any session creation is an error.
'use strict';
class InferenceSession {
  static async create() {
    throw new Error('ONNX Runtime is not bundled with Finetune Studio (only tokenizers are used)');
  }
}
class Tensor {}
module.exports = { env: {}, InferenceSession, Tensor, listSupportedBackends: () => [] };
