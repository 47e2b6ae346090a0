// The learning demo (npm run demo), shortened: LoRA SFT of the embedded tiny base model on arithmetic
// chats must raise greedy exact match on held-out questions (other templates, names, objects) far above
// the base model's. 300 steps give 81.7 % here; 120 steps about 58 %.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEMO_MODEL, runDemo } from '../../src/cli/demo';

test('SFT raises held-out greedy exact match of the tiny base model', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-demo-'));
  const { before, after } = await runDemo({ out, steps: 120, model: DEMO_MODEL, quiet: true });
  assert.ok(before <= 0.1, `the base model should rarely be right, got ${before}`);
  assert.ok(after >= 0.4 && after - before >= 0.3, `exact match ${before} → ${after}`);
  assert.ok(fs.existsSync(path.join(out, 'run', 'adapter', 'adapter_model.safetensors')));
});
