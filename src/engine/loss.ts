// Next-token cross-entropy over the vocabulary without materialising [B·T, V] logits:
// only the positions that carry a label are projected, a chunk of rows at a time, and the backward
// pass recomputes each chunk's logits instead of keeping them (memory O(chunk·V), not O(B·T·V)).
import * as tf from '@tensorflow/tfjs-core';
// At most this many logits (floats) alive at once; the memory estimate counts one chunk.
import { LOGITS_PER_CHUNK } from '../core/estimate';
import { CROSS_ENTROPY, crossEntropyGradWebGpu, crossEntropyRowsWebGpu } from './kernels/webgpu/crossEntropy';
import { useWebGpuKernel } from './kernels/webgpu/program';
import { isPacked, type FrozenMatrix } from './packedWeight';
import { bindingLimitBytes, gatherRows, matMulRows, matMulRowsT } from './rowBlocks';

export const IGNORE_INDEX = -100;

export interface LabelPositions {
  /** row index into the [B·T, D] hidden states of every position that predicts a label. */
  rows: Int32Array;
  /** the token each of those rows must predict. */
  targets: Int32Array;
}

/**
 * Shifts labels by one (hidden state t predicts token t+1) and lists the positions to score.
 * `labels` is [B][T] with IGNORE_INDEX for positions that are not trained.
 */
export function labelPositions(labels: readonly (readonly number[])[], T: number): LabelPositions {
  const rows: number[] = [];
  const targets: number[] = [];
  labels.forEach((row, b) => {
    for (let t = 0; t + 1 < Math.min(row.length, T); t++) {
      const y = row[t + 1];
      if (y !== IGNORE_INDEX) {
        rows.push(b * T + t);
        targets.push(y);
      }
    }
  });
  return { rows: Int32Array.from(rows), targets: Int32Array.from(targets) };
}

/**
 * Sum (not mean) of −log p(target) over the labelled positions, differentiable with respect to
 * `hidden` [B·T, D] and — when `headTrainable` — the output matrix `head` [V, D].
 */
export function crossEntropySum(hidden: tf.Tensor2D, head: FrozenMatrix, positions: LabelPositions, headTrainable = false): tf.Scalar {
  const n = positions.rows.length;
  if (n === 0) return tf.mul(tf.sum(hidden), 0) as tf.Scalar; // keeps the graph connected; gradient 0
  const V = head.shape[0];
  // A chunk's logits [chunk, V] must also fit one GPU binding (4 bytes a logit).
  const chunk = Math.max(1, Math.floor(Math.min(LOGITS_PER_CHUNK, bindingLimitBytes() / 4) / V));
  // On webgpu each chunk's softmax cross-entropy (and its gradient) is one fused kernel.
  const fused = useWebGpuKernel(CROSS_ENTROPY);

  const perChunk = <R>(fn: (start: number, size: number) => R): R[] => {
    const out: R[] = [];
    for (let start = 0; start < n; start += chunk) out.push(fn(start, Math.min(chunk, n - start)));
    return out;
  };

  // The target logit of row i is x_i·w[target_i]: a gather of head rows and a row-wise dot product,
  // so neither pass needs a [rows, V] one-hot.
  const forward = (h: tf.Tensor2D, w: FrozenMatrix) => {
    const rowsT = tf.tensor1d(positions.rows, 'int32');
    const targetsT = tf.tensor1d(positions.targets, 'int32');
    const selected = tf.gather(h, rowsT) as tf.Tensor2D; // [n, D]
    const sums = perChunk((start, size) =>
      tf.tidy(() => {
        const x = tf.slice(selected, [start, 0], [size, -1]);
        const logits = matMulRowsT(x, w); // [size, V]
        if (fused) return tf.sum(crossEntropyRowsWebGpu(logits as tf.Tensor2D, tf.slice(targetsT, start, size)));
        const picked = tf.sum(tf.mul(x, gatherRows(w, tf.slice(targetsT, start, size))));
        return tf.sub(tf.sum(tf.logSumExp(logits, -1)), picked);
      }),
    );
    return { saved: [selected, rowsT, targetsT], value: tf.addN(sums) as tf.Scalar };
  };

  // Tensors that gradFunc needs must go through save(): the engine disposes everything else the
  // forward pass created before backpropagation starts.
  const backward = (dy: tf.Tensor, h: tf.Tensor2D, w: FrozenMatrix, saved: tf.Tensor[]) => {
    const [selected, rowsT, targetsT] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
    // d/dlogits of −log softmax = softmax − onehot, so
    //   dx = (softmax·w − w[target])·dy   and   dw = (softmaxᵀ·x − scatter(x into the target rows))·dy.
    const parts = perChunk((start, size) =>
      tf.tidy(() => {
        const x = tf.slice(selected, [start, 0], [size, -1]);
        const targets = tf.slice(targetsT, start, size);
        if (fused) {
          // webgpu: d/dlogits in one kernel, then one matmul per gradient (no gather, no scatter).
          const dLogits = crossEntropyGradWebGpu(matMulRowsT(x, w), targets, dy); // [size, V]
          return { dx: matMulRows(dLogits, w), dw: headTrainable ? tf.matMul(dLogits, x, true, false) : undefined };
        }
        const probs = tf.softmax(matMulRowsT(x, w));
        const dx = tf.mul(tf.sub(matMulRows(probs, w), gatherRows(w, targets)), dy); // [size, D]
        const dw = headTrainable
          ? tf.mul(tf.sub(tf.matMul(probs, x, true, false), tf.scatterND(tf.reshape(targets, [-1, 1]), x, [...w.shape])), dy) // [V, D]
          : undefined;
        return { dx, dw };
      }),
    );
    const dSelected = parts.length === 1 ? parts[0].dx : tf.concat(parts.map((p) => p.dx), 0);
    const dHidden = tf.scatterND(tf.reshape(rowsT, [-1, 1]), dSelected, h.shape);
    const dHead = headTrainable ? tf.addN(parts.map((p) => p.dw!)) : undefined;
    return { dHidden, dHead };
  };

  if (headTrainable) {
    if (isPacked(head)) throw new Error('crossEntropySum: a trainable head cannot be a packed frozen weight');
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [h, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const { saved: keep, value } = forward(h as tf.Tensor2D, w as tf.Tensor2D);
      save(keep);
      return {
        value,
        gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
          const { dHidden, dHead } = backward(dy, h as tf.Tensor2D, w as tf.Tensor2D, saved);
          return [dHidden, dHead!];
        },
      };
    });
    return f(hidden, head) as tf.Scalar;
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [h, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const { saved: keep, value } = forward(h as tf.Tensor2D, head);
    save(keep);
    return {
      value,
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => backward(dy, h as tf.Tensor2D, head, saved).dHidden,
    };
  });
  return f(hidden) as tf.Scalar;
}
