// The fused optimiser kernels (src/engine/kernels/webgpu/adamW.ts) against the composite tfjs ops that
// AdamW.apply, globalNorm and optimizerStep run elsewhere, both on the webgpu backend: several AdamW
// steps with and without weight decay and a warm-up learning rate that changes every step, odd sizes
// (1, 7, 896×8, 151936), the gradient scaling folded in, the global norm over more gradients than one
// shader binds, dispatch counts and leaked tensors. Without a GPU, Mesa's lavapipe
// (scripts/setup-webgpu.sh) provides a CPU Vulkan adapter. Skipped only where no WebGPU adapter can
// be created at all; the reason is printed.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '../../../src/core/random';
import { AdamW, globalNorm, learningRate, type AdamWSettings } from '../../../src/engine/optimizer';
import { ADAMW, packsMomentsWebGpu, SUM_SQUARES } from '../../../src/engine/kernels/webgpu/adamW';
import { useWebGpuKernel, type WebGpuBackend } from '../../../src/engine/kernels/webgpu/program';
import { optimizerStep } from '../../../src/engine/step';
import type { Objective, StepContext } from '../../../src/engine/objectives';
import { useWebGpuBackend } from '../../helpers/webgpu';
import { assertClose } from '../../helpers/conformance';

const skipWithoutAdapter = useWebGpuBackend('webgpu optimizer tests');

function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => scale * (2 * rand() - 1));
}

function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed, scale), shape, 'float32');
}

/** Runs `f` with FTUNE_WEBGPU_FUSED=0: the composite tfjs ops. */
async function composite<R>(f: () => R | Promise<R>): Promise<R> {
  const saved = process.env.FTUNE_WEBGPU_FUSED;
  process.env.FTUNE_WEBGPU_FUSED = '0';
  try {
    return await f();
  } finally {
    if (saved === undefined) delete process.env.FTUNE_WEBGPU_FUSED;
    else process.env.FTUNE_WEBGPU_FUSED = saved;
  }
}

/** Number of webgpu programs `f` dispatches, by shader key. */
async function countDispatches<R>(f: () => R | Promise<R>): Promise<{ result: R; total: number; keys: string[] }> {
  const backend = tf.backend() as unknown as WebGpuBackend;
  const original = backend.runWebGPUProgram;
  const keys: string[] = [];
  backend.runWebGPUProgram = (program, ...rest) => {
    keys.push(program.shaderKey);
    return original.call(backend, program, ...rest);
  };
  try {
    const result = await f();
    return { result, total: keys.length, keys };
  } finally {
    backend.runWebGPUProgram = original;
  }
}

const SHAPES = [[1], [7], [896, 8], [151936], [3, 5], [8, 64]];

function variables(seed: number, prefix: string): tf.Variable[] {
  return SHAPES.map((s, i) => tf.tidy(() => tf.variable(randomTensor(s, seed + i, 0.5), true, `${prefix}.${i}`)));
}

async function assertSameState(fused: { vars: tf.Variable[]; opt: AdamW }, ref: { vars: tf.Variable[]; opt: AdamW }, what: string): Promise<void> {
  const [a, b] = [await fused.opt.state(), await ref.opt.state()];
  assert.equal(a.step, b.step);
  for (let i = 0; i < ref.vars.length; i++) {
    const shape = ref.vars[i].shape.join('×');
    // The same f32 operations as tfjs's shaders (bit-identical on lavapipe); a driver may still
    // contract a·b + c differently in one shader than across two.
    assertClose(a.m[i], b.m[i], 1e-6, 1e-9, `${what}: m [${shape}]`);
    assertClose(a.v[i], b.v[i], 1e-6, 1e-12, `${what}: v [${shape}]`);
    assertClose(await fused.vars[i].data(), await ref.vars[i].data(), 1e-6, 1e-7, `${what}: θ [${shape}]`);
  }
}

describe('webgpu fused optimiser', () => {
  test('the fused optimiser kernels are registered and chosen on webgpu; FTUNE_WEBGPU_FUSED=0 turns them off', async (t) => {
    if (skipWithoutAdapter(t)) return;
    for (const k of [ADAMW, SUM_SQUARES]) assert.ok(useWebGpuKernel(k), k);
    // packed moments [m…, v…] only where twice the parameter fits one storage binding.
    const limit = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
    assert.ok(packsMomentsWebGpu(Math.floor(limit / 8)));
    assert.ok(!packsMomentsWebGpu(Math.floor(limit / 8) + 1));
    assert.ok(!(await composite(() => packsMomentsWebGpu(1))));
    assert.ok(!(await composite(() => useWebGpuKernel(ADAMW))));
  });

  for (const weightDecay of [0, 0.01]) {
    test(`AdamW (weight decay ${weightDecay}): 5 warm-up steps match the composite at sizes ${SHAPES.map((s) => s.join('×')).join(', ')}`, async (t) => {
      if (skipWithoutAdapter(t)) return;
      const settings: AdamWSettings = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay };
      const fused = { vars: variables(1, 'fused') } as { vars: tf.Variable[]; opt: AdamW };
      const ref = { vars: variables(1, 'ref') } as { vars: tf.Variable[]; opt: AdamW };
      fused.opt = new AdamW(fused.vars, settings);
      ref.opt = await composite(() => new AdamW(ref.vars, settings));
      for (let step = 0; step < 5; step++) {
        // warm-up over 3 steps then linear decay: a different lr every step (0 at the first).
        const lr = learningRate('linear', settings.lr, step, 6, 3);
        const grads = SHAPES.map((s, i) => randomTensor(s, 100 * step + i, step === 2 ? 1e-4 : 1));
        const before = tf.memory().numTensors;
        fused.opt.apply(grads, lr);
        assert.equal(tf.memory().numTensors, before, 'fused apply leaves no tensor behind');
        await composite(() => ref.opt.apply(grads, lr));
        tf.dispose(grads);
        await assertSameState(fused, ref, `step ${step + 1} lr ${lr}`);
      }
      fused.opt.dispose();
      ref.opt.dispose();
      tf.dispose([...fused.vars, ...ref.vars]);
    });
  }

  test('AdamW: the folded gradient scaling (average, then clip) matches multiplying the gradients first', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const settings: AdamWSettings = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 };
    const fused = { vars: variables(7, 'fusedS') } as { vars: tf.Variable[]; opt: AdamW };
    const ref = { vars: variables(7, 'refS') } as { vars: tf.Variable[]; opt: AdamW };
    fused.opt = new AdamW(fused.vars, settings);
    ref.opt = await composite(() => new AdamW(ref.vars, settings));
    for (const [step, scaling] of [{ scale: 1 / 37, clip: 0.3 }, { scale: 1 / 3, clip: 1 }, { scale: 1, clip: 0.05 }].entries()) {
      const grads = SHAPES.map((s, i) => randomTensor(s, 500 + 10 * step + i, 3));
      fused.opt.apply(grads, 1e-2, scaling);
      await composite(() => {
        const scaled = grads.map((g) => tf.mul(tf.mul(g, scaling.scale), scaling.clip));
        ref.opt.apply(scaled, 1e-2);
        tf.dispose(scaled);
      });
      tf.dispose(grads);
      await assertSameState(fused, ref, `scaled step ${step + 1}`);
    }
    fused.opt.dispose();
    ref.opt.dispose();
    tf.dispose([...fused.vars, ...ref.vars]);
  });

  test('AdamW: 2 dispatches per variable, one pipeline whatever the learning rate', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const vars = variables(3, 'count');
    const opt = new AdamW(vars, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const grads = SHAPES.map((s, i) => randomTensor(s, 40 + i));
    const keys = new Set<string>();
    for (const lr of [1e-4, 3e-4, 1e-3]) {
      const { total, keys: k } = await countDispatches(() => opt.apply(grads, lr));
      assert.equal(total, 2 * vars.length, `lr ${lr}`);
      k.forEach((key) => keys.add(key));
    }
    // moment and update kernels, each as vec4 or scalar binding: nothing depends on lr or the step.
    assert.deepEqual([...keys].sort(), ['ftune_adamw_1', 'ftune_adamw_4', 'ftune_adamw_moments_1', 'ftune_adamw_moments_4']);
    opt.dispose();
    tf.dispose([...vars, ...grads]);
  });

  test('AdamW: the packed moments save and restore as separate m and v (resume), across fused and composite', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const settings: AdamWSettings = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const grads = (step: number) => SHAPES.map((s, i) => randomTensor(s, 300 + 10 * step + i));
    const fused = { vars: variables(5, 'resumeF') } as { vars: tf.Variable[]; opt: AdamW };
    const ref = { vars: variables(5, 'resumeR') } as { vars: tf.Variable[]; opt: AdamW };
    fused.opt = new AdamW(fused.vars, settings);
    ref.opt = await composite(() => new AdamW(ref.vars, settings));
    const g1 = grads(1);
    fused.opt.apply(g1, 1e-3);
    await composite(() => ref.opt.apply(g1, 1e-3));
    const saved = await fused.opt.state();
    assert.deepEqual(saved.m.map((m) => m.length), SHAPES.map((s) => s.reduce((a, b) => a * b, 1)));
    // a fresh fused optimiser restores the fused state, a fresh composite one too: both continue alike.
    const before = tf.memory().numTensors;
    const resumed = new AdamW(fused.vars, settings);
    resumed.restore(saved);
    assert.equal(tf.memory().numTensors, before + SHAPES.length, 'restore keeps only the packed moments');
    fused.opt.dispose();
    fused.opt = resumed;
    const refResumed = await composite(() => new AdamW(ref.vars, settings));
    refResumed.restore(await ref.opt.state());
    ref.opt.dispose();
    ref.opt = refResumed;
    await assertSameState(fused, ref, 'restored');
    const g2 = grads(2);
    fused.opt.apply(g2, 5e-4);
    await composite(() => ref.opt.apply(g2, 5e-4));
    await assertSameState(fused, ref, 'a step after the restore');
    fused.opt.dispose();
    ref.opt.dispose();
    tf.dispose([...g1, ...g2, ...fused.vars, ...ref.vars]);
  });

  test('AdamW: a variable past 65535 workgroups (4194305 elements: the backend folds the dispatch)', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const settings: AdamWSettings = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    const make = (name: string) => {
      const vars = [tf.tidy(() => tf.variable(randomTensor([4194305], 11), true, name))];
      return { vars, opt: new AdamW(vars, settings) };
    };
    const fused = make('big.fused'), ref = await composite(() => make('big.ref'));
    const g = randomTensor([4194305], 12);
    fused.opt.apply([g], 1e-3, { scale: 0.5, clip: 0.9 });
    const scaled = tf.tidy(() => tf.mul(tf.mul(g, 0.5), 0.9));
    await composite(() => ref.opt.apply([scaled], 1e-3));
    await assertSameState(fused, ref, 'one step');
    fused.opt.dispose();
    ref.opt.dispose();
    tf.dispose([g, scaled, ...fused.vars, ...ref.vars]);
  });

  test('global norm: matches the composite over 1 to 60 gradients of odd sizes, with and without a scale', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const sizes = [[1], [7], [896, 8], [151936], [8, 896], [3, 5]];
    for (const count of [1, 2, 7, 8, 13, 60]) {
      const grads = Array.from({ length: count }, (_, i) => randomTensor(sizes[i % sizes.length], 900 + i));
      for (const scale of [1, 1 / 37]) {
        const before = tf.memory().numTensors;
        const { result: fused, total } = await countDispatches(() => globalNorm(grads, scale));
        assert.equal(tf.memory().numTensors, before + 1, 'only the norm is left');
        // a chain of sum-of-squares kernels: the device's storage-buffer bindings per shader (8 by default;
        // the backend requests the adapter's own, 16 on lavapipe) less the output in the first, less the
        // output and the running total in each next.
        const bindings = (tf.backend() as unknown as { device: { limits: { maxStorageBuffersPerShaderStage: number } } }).device.limits.maxStorageBuffersPerShaderStage;
        const first = bindings - 1, next = bindings - 2;
        assert.equal(total, count <= first ? 1 : 1 + Math.ceil((count - first) / next), `${count} gradients: dispatches`);
        const ref = await composite(() => globalNorm(grads, scale));
        assertClose(await fused.data(), await ref.data(), 1e-5, 0, `global norm of ${count} gradients, scale ${scale}`);
        tf.dispose([fused, ref]);
      }
      tf.dispose(grads);
    }
  });

  test('global norm: gradients too large for one workgroup take the composite sum, mixed with small ones', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const grads = [randomTensor([(1 << 20) + 3], 1), randomTensor([7], 2), randomTensor([896, 8], 3)];
    const fused = globalNorm(grads, 0.5);
    const ref = await composite(() => globalNorm(grads, 0.5));
    assertClose(await fused.data(), await ref.data(), 1e-5, 0, 'global norm with a large gradient');
    const onlyLarge = globalNorm(grads.slice(0, 1));
    const onlyLargeRef = await composite(() => globalNorm(grads.slice(0, 1)));
    assertClose(await onlyLarge.data(), await onlyLargeRef.data(), 1e-5, 0, 'global norm of one large gradient');
    tf.dispose([...grads, fused, ref, onlyLarge, onlyLargeRef]);
  });

  test('optimizerStep: two micro-batches, averaging and clipping folded into the kernels, match the composite step', async (t) => {
    if (skipWithoutAdapter(t)) return;
    const shapes = [[7], [896, 8], [1], [33, 5]];
    const coefs = shapes.map((s, i) => randomTensor(s, 70 + i));
    // loss = Σ_i Σ (c_i·θ_i + θ_i²/2) per micro-batch, weight 3 per micro-batch: gradients c_i + θ_i, scale 1/6.
    const objective = (vars: tf.Variable[]): Objective<number> => ({
      name: 'quadratic',
      loss: () => ({ loss: tf.addN(vars.map((v, i) => tf.sum(tf.add(tf.mul(v, coefs[i]), tf.mul(tf.square(v), 0.5))))) as tf.Scalar, weight: 3, tokens: 1 }),
    });
    const ctx = () => ({}) as StepContext;
    let runs = 0;
    const run = async () => {
      runs++;
      const vars = shapes.map((s, i) => tf.tidy(() => tf.variable(randomTensor(s, 80 + i), true, `step${runs}.${i}`)));
      const opt = new AdamW(vars, { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
      const outcomes = [];
      // max_grad_norm 0.5 clips (the norm is ~25); 1e6 does not.
      for (const maxGradNorm of [0.5, 1e6, 0.5]) outcomes.push(await optimizerStep(objective(vars), [[0], [1]], vars, opt, ctx, { lr: 1e-2, maxGradNorm }));
      const values = await Promise.all(vars.map(async (v) => v.data()));
      opt.dispose();
      tf.dispose(vars);
      return { outcomes, values };
    };
    const before = tf.memory().numTensors;
    const fused = await run();
    assert.equal(tf.memory().numTensors, before, 'the fused steps leave no tensor behind');
    const ref = await composite(run);
    for (let i = 0; i < fused.outcomes.length; i++) {
      assert.ok(fused.outcomes[i].applied);
      assertClose([fused.outcomes[i].gradNorm], [ref.outcomes[i].gradNorm], 1e-5, 0, `step ${i + 1}: grad norm`);
    }
    for (let i = 0; i < shapes.length; i++) assertClose(fused.values[i], ref.values[i], 1e-5, 1e-7, `θ ${i} after 3 steps`);
    tf.dispose(coefs);
  });
});
