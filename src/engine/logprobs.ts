// log p(target) of every labelled position, differentiable, without materialising all logits at once
// and without gather's gradient (the wasm backend lacks UnsortedSegmentSum): the selection and the
// per-chunk softmax are done inside a custom gradient, the backward pass scatters rows back.
import * as tf from '@tensorflow/tfjs-core';
// At most this many logits (floats) alive at once; the memory estimate counts one chunk.
import { LOGITS_PER_CHUNK } from '../core/estimate';
import type { LabelPositions } from './loss';
import type { FrozenMatrix } from './packedWeight';
import { bindingLimitBytes, matMulRows, matMulRowsT } from './rowBlocks';

/** [n] log-probabilities of `positions.targets` from hidden states [B·T, D] and head [V, D] (head frozen). */
export function tokenLogProbs(hidden: tf.Tensor2D, head: FrozenMatrix, positions: LabelPositions): tf.Tensor1D {
  const n = positions.rows.length;
  if (n === 0) return tf.zeros([0]) as tf.Tensor1D;
  const V = head.shape[0];
  // a chunk's logits [chunk, V] must also fit one GPU binding (4 bytes a logit)
  const chunk = Math.max(1, Math.floor(Math.min(LOGITS_PER_CHUNK, bindingLimitBytes() / 4) / V));
  const starts: number[] = [];
  for (let s = 0; s < n; s += chunk) starts.push(s);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [h, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const rows = tf.tensor1d(positions.rows, 'int32');
    const targets = tf.tensor1d(positions.targets, 'int32');
    const selected = tf.gather(h, rows) as tf.Tensor2D;
    const parts = starts.map((start) =>
      tf.tidy(() => {
        const size = Math.min(chunk, n - start);
        const logits = matMulRowsT(tf.slice(selected, [start, 0], [size, -1]), head);
        const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.slice(targets, start, size), V)), -1);
        return tf.sub(picked, tf.logSumExp(logits, -1));
      }),
    );
    save([selected, rows, targets]); // gradFunc may only use saved tensors
    return {
      value: (parts.length === 1 ? parts[0] : tf.concat(parts)) as tf.Tensor1D,
      gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => {
        const [sel, rowsT, targetsT] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        // d log p / d logits = onehot − softmax, weighted by the upstream gradient of each row.
        const dParts = starts.map((start) =>
          tf.tidy(() => {
            const size = Math.min(chunk, n - start);
            const logits = matMulRowsT(tf.slice(sel, [start, 0], [size, -1]), head);
            const weight = tf.reshape(tf.slice(dy, start, size), [size, 1]);
            const dLogits = tf.mul(tf.sub(tf.oneHot(tf.slice(targetsT, start, size), V), tf.softmax(logits)), weight);
            return matMulRows(dLogits as tf.Tensor2D, head);
          }),
        );
        const dSel = dParts.length === 1 ? dParts[0] : tf.concat(dParts, 0);
        return tf.scatterND(tf.reshape(rowsT, [-1, 1]), dSel, h.shape);
      },
    };
  });
  return f(hidden) as tf.Tensor1D;
}

/** Sums per-position values [n] into per-sequence totals [S] (row r belongs to sequence floor(row/T)). */
export function sumPerSequence(values: tf.Tensor1D, positions: LabelPositions, S: number, T: number): tf.Tensor1D {
  const n = positions.rows.length;
  const assign = new Float32Array(S * n);
  for (let i = 0; i < n; i++) assign[Math.floor(positions.rows[i] / T) * n + i] = 1;
  if (n === 0) return tf.zeros([S]) as tf.Tensor1D;
  return tf.reshape(tf.matMul(tf.tensor2d(assign, [S, n]), tf.reshape(values, [n, 1])), [S]) as tf.Tensor1D;
}
