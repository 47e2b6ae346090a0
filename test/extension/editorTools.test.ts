// Language-model tools (src/extension/tools/toolText.ts): input checks, run status, memory estimate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { estimateMemory, findRun, optionalNumber, requiredString, runStatus } from '../../src/extension/tools/toolText';
import { estimateTraining, modelShapeFromConfig } from '../../src/core/estimate';
import type { RunSummary } from '../../src/core/runStore';
import { TINY } from '../helpers/sharedFiles';


const run = (id: string, extra: Partial<RunSummary> = {}): RunSummary => ({
  id, dir: `/runs/${id}`, name: `${id}-name`, status: 'completed', created: '2026-01-01', model: '/m/base', method: 'sft', full: false,
  step: 10, total_steps: 10, checkpoints: [{ step: 5, path: `/runs/${id}/checkpoint-5`, eval_loss: 1.5 }], resumable: false, ...extra,
});

test('run status: the newest run by default, by id or name, with metrics and checkpoints', () => {
  const runs = [run('b', { loss: 0.5, eval_loss: 0.7, metrics: { 'reward accuracy': 0.75 }, adapter: '/runs/b/adapter' }), run('a')];
  assert.equal(findRun(runs, undefined).id, 'b');
  assert.equal(findRun(runs, 'a-name').id, 'a');
  assert.throws(() => findRun(runs, 'zzz'), /no run "zzz"; runs: b-name, a-name/);
  assert.throws(() => findRun([], undefined), /no runs/);
  const status = runStatus(runs[0]);
  assert.deepEqual({ loss: status.loss, eval_loss: status.eval_loss, metrics: status.metrics, adapter: status.adapter }, { loss: 0.5, eval_loss: 0.7, metrics: { 'reward accuracy': 0.75 }, adapter: '/runs/b/adapter' });
  assert.deepEqual(status.checkpoints, [{ step: 5, path: '/runs/b/checkpoint-5', eval_loss: 1.5 }]);
});

test('inputs: required strings and non-negative numbers are checked with the field named', () => {
  assert.equal(requiredString({ file: 'a.jsonl' }, 'file'), 'a.jsonl');
  assert.throws(() => requiredString({ file: '' }, 'file'), /input\.file is required/);
  assert.throws(() => requiredString(undefined, 'model'), /input\.model is required/);
  assert.equal(optionalNumber({}, 'n'), undefined);
  assert.throws(() => optionalNumber({ n: -1 }, 'n'), /input\.n must be a non-negative number/);
});

test('memory estimate: the wizard\'s estimate for a real config.json; full fine-tuning needs more than LoRA', () => {
  const lora = estimateMemory({ model: TINY }, 'cpu');
  const full = estimateMemory({ model: TINY, full: true }, 'cpu');
  const config = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
  const expected = estimateTraining({ shape: modelShapeFromConfig(config), full: false, lora_r: 8, lora_targets: 'all-linear', batch_size: 4, grad_accum: 1, max_length: 512, steps: 1, backend: 'cpu' });
  assert.equal(lora.total_parameters, expected.total_parameters);
  assert.equal(lora.trainable_parameters, expected.trainable_parameters);
  assert.ok(full.trainable_parameters === full.total_parameters && full.total_gib > lora.total_gib);
  assert.throws(() => estimateMemory({ model: '/no/such/model' }, 'cpu'), /ENOENT|no such file/);
  // the base precision (on wasm: the cpu backend holds frozen weights in float32 and has no quantized base):
  // a quantized frozen base is smaller, the adapter the same; full fine-tuning has none
  const onWasm = estimateMemory({ model: TINY }, 'wasm');
  const nf4 = estimateMemory({ model: TINY, quantize: 'nf4' }, 'wasm');
  assert.equal(lora.quantize, 'none');
  assert.equal(nf4.quantize, 'nf4');
  assert.ok(nf4.weights_gib < onWasm.weights_gib, `${nf4.weights_gib} < ${onWasm.weights_gib}`);
  assert.equal(nf4.optimizer_gib, onWasm.optimizer_gib);
  assert.ok(onWasm.heap_overhead_gib > 0 && lora.heap_overhead_gib === 0, 'the wasm heap\'s overhead, on wasm only');
  assert.throws(() => estimateMemory({ model: TINY, quantize: 'nf4' }, 'cpu'), /input\.quantize needs the wasm or webgpu backend; the cpu backend holds every weight in float32/);
  assert.throws(() => estimateMemory({ model: TINY, quantize: 'q4' }, 'cpu'), /input\.quantize must be one of none, int8, nf4/);
  assert.throws(() => estimateMemory({ model: TINY, full: true, quantize: 'nf4' }, 'cpu'), /input\.quantize applies to LoRA/);
});
