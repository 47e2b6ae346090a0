// Shared helpers for tests that compare the engine with ../shared/conformance.
import * as fs from 'fs';
import * as path from 'path';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { SafetensorsFile } from '../../src/core/safetensors';
import { DecoderModel } from '../../src/engine/model';

export const SHARED = process.env.FTUNE_SHARED ?? path.resolve(__dirname, '..', '..', '..', '..', 'shared');
export const CONFORMANCE = path.join(SHARED, 'conformance');
export const CONFORMANCE_MODELS = ['tiny-qwen2', 'tiny-llama', 'tiny-gemma3', 'tiny-phi3'] as const;
export const TINY_BASE = path.join(SHARED, 'models', 'tiny-gsm8k-base');

export function modelDir(name: string): string {
  return path.join(CONFORMANCE, name);
}

export function readCase<T>(model: string, file: string): T {
  return JSON.parse(fs.readFileSync(path.join(CONFORMANCE, model, 'cases', file), 'utf8')) as T;
}

/**
 * |a − b| ≤ atol + rtol·|b| element-wise; at most `allowFraction` of the elements may miss
 * (the conformance README allows 0.1% for Adam sign flips on ~0 gradients).
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string, allowFraction = 0): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let bad = 0;
  let worst = { i: -1, a: 0, e: 0 };
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0)) {
      bad++;
      if (!(excess <= worstExcess)) {
        worstExcess = excess;
        worst = { i, a, e };
      }
    }
  }
  const allowed = Math.floor(expected.length * allowFraction);
  assert.ok(bad <= allowed, `${what}: ${bad} of ${expected.length} elements outside tolerance (allowed ${allowed}); worst at ${worst.i}: ${worst.a} vs ${worst.e}`);
}

export function readSafetensorsAll(file: string): Map<string, Float32Array> {
  const f = SafetensorsFile.open(file);
  try {
    return new Map([...f.tensors.keys()].map((k) => [k, f.readFloat32(k).data]));
  } finally {
    f.close();
  }
}

interface LogitsCase { input_ids: number[][]; attention_mask: number[][]; shape: [number, number, number]; logits: number[] }

/**
 * logits.json of conformance model `name`: the logits of a right-padded batch match the golden ones at
 * every unpadded position, on whatever backend is active (read back asynchronously: webgpu cannot
 * read synchronously in Node).
 */
export async function assertLogitsCase(name: string): Promise<void> {
  const c = readCase<LogitsCase>(name, 'logits.json');
  const [B, T, V] = c.shape;
  const model = DecoderModel.load(modelDir(name));
  try {
    const logitsT = tf.tidy(() => model.logits(model.forward(tf.tensor2d(c.input_ids.flat(), [B, T], 'int32')).hidden));
    const logits = await logitsT.data();
    logitsT.dispose();
    const got: number[] = [], want: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        if (!c.attention_mask[b][t]) continue;
        for (let v = 0; v < V; v++) {
          got.push(logits[(b * T + t) * V + v]);
          want.push(c.logits[(b * T + t) * V + v]);
        }
      }
    }
    assertClose(got, want, 1e-3, 2e-4, 'logits');
  } finally {
    model.dispose();
  }
}
