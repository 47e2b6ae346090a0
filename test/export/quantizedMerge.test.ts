// Merged export of a run trained on a quantized base (issue 18): the adapter of an nf4 QLoRA run at the
// real shape of Qwen2.5-0.5B (BF16 checkpoint, 2 layers, its tokenizer) is merged into the ORIGINAL
// weights read from the base folder — as PEFT users merge a QLoRA adapter into the 16-bit base — not into
// the nf4 values it trained against; the CLI output and the model card say so.
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../src/core/runConfig';
import { fromFloat32, toFloat32, WeightStore } from '../../src/core/safetensors';
import { initBackend } from '../../src/engine/backend';
import { dequantizeReference, quantizeNf4 } from '../../src/engine/packedWeight';
import { runTraining } from '../../src/engine/trainer';
import { referenceFusedWeights, tempDir } from '../helpers/exportFixtures';
import { QWEN25_05B, writeRealShapeModel } from '../helpers/realShapes';

const CLI = path.resolve(__dirname, '..', '..', '..', 'bin', 'ftune.js');
let root: string;
let base: string;
let run: string;

before(async () => {
  await initBackend('wasm');
  root = tempDir('quantized-merge');
  base = writeRealShapeModel(QWEN25_05B);
  const data = path.join(root, 'sums.jsonl');
  const rows = Array.from({ length: 4 }, (_, i) => ({ prompt: `What is ${i} + ${i + 2}?`, completion: ` ${2 * i + 2}` }));
  fs.writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  run = path.join(root, 'run');
  const config: RunConfig = {
    ...DEFAULT_RUN_CONFIG, model: base, data, out: run, quantize: 'nf4', max_steps: 2, batch_size: 2, lr: 1e-2, lora_dropout: 0,
    max_length: 32, backend: 'wasm', seed: 5,
  };
  const outcome = await runTraining({ config, resume: false, emit: () => {} });
  assert.equal(outcome, 'done');
});

after(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(base, { recursive: true, force: true });
});

/** The value bf16 rounding gives (what a BF16 merged folder stores). */
const bf16 = (x: Float32Array) => toFloat32(fromFloat32(x, 'BF16'), 'BF16');

test('ftune export --to merged --run of an nf4 run: merged into the original BF16 weights, and it says so', () => {
  const out = path.join(root, 'merged');
  const r = spawnSync(process.execPath, [CLI, 'export', '--to', 'merged', '--run', run, '--out', out, '--backend', 'wasm'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^note: the adapter was trained on a nf4-quantized base; it is merged into the original BF16 weights of .+ \(as PEFT merges a QLoRA adapter\), not into the nf4 values$/m);
  assert.match(r.stdout, /^trained_on: nf4$/m);
  assert.match(r.stdout, /^merged_into: original BF16 weights$/m);
  assert.match(fs.readFileSync(path.join(out, 'README.md'), 'utf8'), /trained on a nf4-quantized base \(QLoRA\); it is merged into the original weights of the base folder/);

  // W + (alpha/r)·B·A from the files alone (float64), with W the base folder's BF16 values; and the same
  // delta added to dequantize(nf4(W)), what the run computed with.
  const original = referenceFusedWeights(base, path.join(run, 'adapter'));
  const unmerged = referenceFusedWeights(base);
  const merged = WeightStore.openFolder(out);
  try {
    let checked = 0;
    for (const [name, want] of original) {
      if (!name.endsWith('_proj.weight')) continue;
      const got = merged.read(name);
      assert.deepEqual(got.shape, want.shape, name);
      const expected = bf16(want.data);
      const W = unmerged.get(name)!;
      const nf4 = dequantizeReference(quantizeNf4(W.data, [W.shape[0], W.shape[1]]));
      const intoNf4 = bf16(Float32Array.from(want.data, (v, i) => v - W.data[i] + nf4[i]));
      let offOriginal = 0, offNf4 = 0, deltas = 0;
      for (let i = 0; i < got.data.length; i++) {
        // one bf16 rounding apart at most (the engine fuses in float32, the reference in float64; where W + B·A
        // nearly cancels, float32's error is relative to W)
        if (Math.abs(got.data[i] - expected[i]) > 2 ** -7 * Math.abs(expected[i]) + 2 ** -20 * Math.abs(W.data[i])) offOriginal++;
        if (got.data[i] !== intoNf4[i]) offNf4++;
        if (want.data[i] !== W.data[i]) deltas++;
      }
      assert.equal(offOriginal, 0, `${name}: ${offOriginal} values differ from the original weights + B·A`);
      assert.ok(deltas > 0.5 * got.data.length, `${name}: the trained adapter changes the weights`);
      assert.ok(offNf4 > 0.5 * got.data.length, `${name}: only ${offNf4} of ${got.data.length} values differ from a merge into the nf4 values`);
      checked++;
    }
    assert.equal(checked, 2 * 7, 'the seven projections of both layers');
  } finally {
    merged.close();
  }
});
