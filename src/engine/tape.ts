// Whether tfjs is recording operations for a gradient right now.
import * as tf from '@tensorflow/tfjs-core';

/**
 * True while tf.grads / tf.variableGrads (engine.gradients) run their function, so in a training step's
 * forward pass and a checkpointed layer's recompute; false in generation, evaluation and prefill, and
 * in backward passes, where forward-only kernels and plain calls without gradient wrappers may run.
 */
export function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}
