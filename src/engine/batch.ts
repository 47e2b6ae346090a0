// Turning tokenized examples into padded batches (right padding, as transformers' collators do).
import * as tf from '@tensorflow/tfjs-core';
import { labelPositions, type LabelPositions } from './loss';

export interface Sequence {
  input_ids: readonly number[];
  labels: readonly number[];
}

export interface Batch {
  B: number;
  T: number;
  /** [B·T] token ids, right-padded with `padId`. */
  ids: Int32Array;
  /** shifted label positions (hidden state t predicts token t+1). */
  positions: LabelPositions;
  /** real (non-pad) tokens in the batch. */
  tokens: number;
}

export function collate(sequences: readonly Sequence[], padId: number): Batch {
  const B = sequences.length;
  const T = Math.max(1, ...sequences.map((s) => s.input_ids.length));
  const ids = new Int32Array(B * T).fill(padId);
  let tokens = 0;
  sequences.forEach((s, b) => {
    ids.set(s.input_ids, b * T);
    tokens += s.input_ids.length;
  });
  return { B, T, ids, positions: labelPositions(sequences.map((s) => s.labels), T), tokens };
}

export function idsTensor(batch: Batch): tf.Tensor2D {
  return tf.tensor2d(batch.ids, [batch.B, batch.T], 'int32');
}
