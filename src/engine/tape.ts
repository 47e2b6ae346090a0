// Whether tfjs is recording operations for a gradient right now.
import * as tf from '@tensorflow/tfjs-core';

/**
 * True inside tf.grads / tf.variableGrads / tf.customGrad's forward pass (and so inside a training
 * step and a checkpointed layer's recompute); false in generation, evaluation and prefill, where
 * forward-only kernels and plain calls without gradient wrappers may run.
 */
export function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}
