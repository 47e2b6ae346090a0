// The base precision a run recorded in run_config.json (`quantize`), where a person looks: the Runs
// view's description and tooltip, the Checkpoints view's run line and checkpoint tooltips. The runs
// are real run folders read back as the views read them.
import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_RUN_CONFIG, type Quantize } from '../../src/core/runConfig';
import { createRun, readRun, type RunSummary } from '../../src/core/runStore';
import { checkpointEntries, checkpointRunDescription, checkpointTooltip } from '../../src/extension/views/checkpointEntries';
import { describeRun, runTooltip } from '../../src/extension/views/runText';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-precision-views-'));
after(() => fs.rmSync(runsDir, { recursive: true, force: true }));

/** A queued run created as the extension creates one, with one checkpoint folder added to its summary. */
function run(name: string, quantize: Quantize, full = false): RunSummary {
  const { dir } = createRun(runsDir, name, { ...DEFAULT_RUN_CONFIG, model: '/models/qwen', data: '/data/train.jsonl', quantize, full });
  const summary = readRun(dir, () => false);
  assert.ok(summary?.config, 'the run and its run_config.json are read');
  return { ...summary, checkpoints: [{ step: 10, path: path.join(dir, 'checkpoints', 'step-10') }] };
}

const tooltipLine = (markdown: string) => markdown.split('\n\n').find((l) => l.startsWith('Base weights: '));

test('Runs view: a quantized base is in the description and every base in the tooltip', () => {
  const nf4 = run('nf4', 'nf4');
  assert.equal(describeRun(nf4), 'queued · nf4 base');
  assert.equal(tooltipLine(runTooltip(nf4)), 'Base weights: 4-bit (NF4, QLoRA)');
  assert.equal(describeRun(run('int8', 'int8')), 'queued · int8 base');
  // the default base (as stored) needs no mark in the list, but the tooltip says what it is
  const stored = run('stored', 'none');
  assert.equal(describeRun(stored), 'queued');
  assert.equal(tooltipLine(runTooltip(stored)), 'Base weights: 16-bit (as stored)');
  const full = run('full', 'none', true);
  assert.equal(describeRun(full), 'queued');
  assert.equal(tooltipLine(runTooltip(full)), 'Base weights: float32, every weight trained (full fine-tuning)');
});

test('Checkpoints view: the run line marks a quantized base; each checkpoint\'s tooltip names the base it was trained on', () => {
  const nf4 = run('ckpt-nf4', 'nf4');
  assert.equal(checkpointRunDescription(nf4), '1 checkpoint · nf4 base');
  const [entry] = checkpointEntries(nf4);
  assert.ok(entry.kind === 'checkpoint');
  assert.equal(checkpointTooltip(entry), `${entry.path}\nBase weights: 4-bit (NF4, QLoRA)`);
  const stored = run('ckpt-stored', 'none');
  assert.equal(checkpointRunDescription(stored), '1 checkpoint');
  const [storedEntry] = checkpointEntries(stored);
  assert.ok(storedEntry.kind === 'checkpoint');
  assert.equal(checkpointTooltip(storedEntry), `${storedEntry.path}\nBase weights: 16-bit (as stored)`);
  // a run whose run_config.json is gone: the path alone, as before
  assert.equal(checkpointTooltip({ ...storedEntry, run: { ...stored, config: undefined } }), storedEntry.path);
});
