// Backward passes that hold as few gradient tensors as possible: a training step's (step.ts), and a
// gradient-checkpointed segment's (model.ts checkpointedLayer), which recomputes the segment on a
// fresh tape and takes its gradients there.
import * as tf from '@tensorflow/tfjs-core';

/** The parts of a tfjs tape node this file touches (tfjs-core's TapeNode). */
interface TapeNode {
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface Engine {
  state: { activeTape: TapeNode[] | null };
  gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor, allowNoGradients: boolean): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
}

/**
 * Gradients of f() with respect to `xs`, given the upstream gradient `dy`, from inside a customGrad
 * gradFunc. WHY the tape juggling: tfjs has one global tape; a nested gradients() call starts a
 * fresh one (the outer backward pass runs at gradient depth 0) and sets it to null when done, after
 * which the outer pass would fail to release its own saved tensors. Restore the outer tape.
 */
export function recomputeGradients(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const engine = tf.engine() as unknown as Engine;
  const outerTape = engine.state.activeTape;
  try {
    const { value, grads } = engine.gradients(() => {
      const y = f();
      releaseGradientsOnceUsed();
      return y;
    }, xs, dy, true);
    value.dispose();
    return xs.map((x, i) => grads[i] ?? tf.zerosLike(x));
  } finally {
    engine.state.activeTape = outerTape;
  }
}

/**
 * Call at the end of a function whose gradients tfjs is about to take (tf.variableGrads, tf.grads,
 * engine.gradients): the backward pass then frees each node's output gradients as soon as that node
 * has turned them into its input gradients. WHY: tfjs's backpropagateGradients keeps every
 * intermediate gradient until the whole backward pass ends (and, where a tensor feeds several nodes,
 * each partial gradient beside their sum): a recomputed decoder layer held the gradient of each of its
 * activations (at 512 tokens of a 3B shape, ~230 MiB more at the peak of the step), and a step held
 * every checkpointed layer's input gradient (36 × 4 MiB there).
 *
 * The nodes run last to first; when a node's gradient function is called, the node after it is done
 * (its gradient closures have all been called), so its output gradients and the partial input
 * gradients that tfjs added into a running sum are freed then. Only tensors made during the backward
 * pass are freed (never the caller's `dy`, never a forward activation), and never one that a gradient
 * closure returned twice (it may be stored as two tensors' gradients).
 */
export function releaseGradientsOnceUsed(): void {
  const tape = (tf.engine() as unknown as Engine).state.activeTape ?? [];
  const mark = tf.scalar(0); // every tensor made from here on has a larger id
  const firstBackwardId = mark.id;
  mark.dispose();
  const timesReturned = new Map<tf.Tensor, number>();
  const hasGradient = new Set<number>(); // ids of the tensors that already received a gradient
  let finished: { dys: (tf.Tensor | null)[]; ownReturns: Set<tf.Tensor>; summed: tf.Tensor[] } = { dys: [], ownReturns: new Set(), summed: [] };
  const freeable = (t: tf.Tensor) => t.id > firstBackwardId && (timesReturned.get(t) ?? 0) <= 1 && !t.isDisposed;
  const release = () => {
    // A dy that this node's own closures handed back as is is its input's gradient now: kept.
    for (const d of finished.dys) if (d && !finished.ownReturns.has(d) && freeable(d)) d.dispose();
    // tfjs replaced the running sum by add(sum, dx) and freed the old sum, not dx.
    for (const dx of finished.summed) if (freeable(dx)) dx.dispose();
  };
  for (const node of tape) {
    const gradient = node.gradient;
    if (!gradient) continue;
    node.gradient = (dys) => {
      release();
      const closures = gradient(dys);
      const current = { dys, ownReturns: new Set<tf.Tensor>(), summed: [] as tf.Tensor[] };
      finished = current;
      const tracked: Record<string, () => tf.Tensor> = {};
      for (const [name, closure] of Object.entries(closures)) {
        tracked[name] = () => {
          const dx = closure();
          current.ownReturns.add(dx);
          timesReturned.set(dx, (timesReturned.get(dx) ?? 0) + 1);
          const input = node.inputs[name];
          if (input && hasGradient.has(input.id)) current.summed.push(dx);
          else if (input) hasGradient.add(input.id);
          return dx;
        };
      }
      return tracked;
    };
  }
}
