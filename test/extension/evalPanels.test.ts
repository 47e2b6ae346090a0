// The VS-Code-free parts of evaluate-while-training in the extension and the loss panel: the
// generation-metric series, the best evaluation marked on the charts, the Checkpoints view's starred
// best, the playground's adapter order and the run store reading best/best.json.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TrainerEvent } from '../../src/core/protocol';
import { readBestEvaluation, readRun, type RunSummary } from '../../src/core/runStore';
import { modelChoices } from '../../src/extension/panels/modelChoices';
import { checkpointEntries, checkpointLabel } from '../../src/extension/views/checkpointEntries';
import { bestEvaluation, generationSeries, reportedGenerationMetrics } from '../../webview/lib/evalMetrics';
import { collectMetrics } from '../../webview/lib/metrics';
import { metricsCsv } from '../../webview/lib/csv';

const step = (n: number, tokens: number): TrainerEvent => ({
  type: 'step', step: n, total_steps: 6, epoch: n / 6, loss: 1 / n, lr: 1e-3, grad_norm: 1, tokens_per_second: 100, tokens_seen: tokens, elapsed: n,
});
const evalAt = (n: number, loss: number, em?: number): TrainerEvent => ({
  type: 'eval', step: n, eval_loss: loss, perplexity: Math.exp(loss), ...(em === undefined ? {} : { exact_match: em, generation_examples: 8, generation_seconds: 0.5 }),
});

const events: TrainerEvent[] = [
  evalAt(0, 3, 0), step(1, 100), step(2, 200), evalAt(2, 1.5, 0.25), step(3, 300), step(4, 400), evalAt(4, 1.2, 0.5), step(5, 500), step(6, 600), evalAt(6, 1.4, 0.5),
];

test('generation series start at step 0 (the base model) and follow the x axis', () => {
  const m = collectMetrics(events);
  assert.deepEqual(generationSeries(m, 'step', 'exact_match'), [{ x: 0, y: 0 }, { x: 2, y: 0.25 }, { x: 4, y: 0.5 }, { x: 6, y: 0.5 }]);
  assert.deepEqual(generationSeries(m, 'tokens', 'exact_match').map((p) => p.x), [0, 200, 400, 600]);
  assert.deepEqual(generationSeries(m, 'step', 'bleu'), []);
  assert.deepEqual(reportedGenerationMetrics([m, collectMetrics([evalAt(1, 1)])]), ['exact_match']);
});

test('the best evaluation: the trainer\'s word when the run ended, else judged live by the configured metric', () => {
  const m = collectMetrics(events);
  // Live, by the run's best_metric: the first evaluation reaching the top (a tie is no improvement).
  assert.deepEqual(bestEvaluation(events, m, { best_metric: 'exact_match' }), { metric: 'exact_match', value: 0.5, step: 4 });
  assert.deepEqual(bestEvaluation(events, m, null), { metric: 'eval_loss', value: 1.2, step: 4 });
  assert.deepEqual(bestEvaluation(events.slice(0, 4), collectMetrics(events.slice(0, 4)), { best_metric: 'eval_loss' }), { metric: 'eval_loss', value: 1.5, step: 2 });
  // Ended: the done event's best wins.
  const done: TrainerEvent = { type: 'done', step: 6, adapter_path: '/r/adapter', elapsed: 1, best: { metric: 'f1', value: 0.7, step: 2, path: '/r/best' } };
  assert.deepEqual(bestEvaluation([...events, done], m, { best_metric: 'exact_match' }), { metric: 'f1', value: 0.7, step: 2 });
  assert.equal(bestEvaluation([step(1, 1)], collectMetrics([step(1, 1)]), null), undefined);
});

function runWith(best: RunSummary['best']): RunSummary {
  return {
    id: 'r', dir: '/runs/r', name: 'r', status: 'completed', created: '', model: '/models/base', method: 'sft', full: false, step: 6, total_steps: 6,
    checkpoints: [{ step: 2, path: '/runs/r/checkpoints/step-2', eval_loss: 1.5 }, { step: 4, path: '/runs/r/checkpoints/step-4', eval_loss: 1.2 }],
    adapter: '/runs/r/adapter', resumable: false, best,
  };
}

test('Checkpoints view: the best first with a star, its step starred, then checkpoints and the final adapter', () => {
  const run = runWith({ metric: 'exact_match', value: 0.5, step: 4, path: '/runs/r/best' });
  const entries = checkpointEntries(run);
  const shown = entries.map((e) => (e.kind === 'checkpoint' ? [e.path, checkpointLabel(e).label, checkpointLabel(e).description] : []));
  assert.deepEqual(shown, [
    ['/runs/r/best', '★ best (step 4)', 'exact_match 0.5'],
    ['/runs/r/checkpoints/step-2', 'step 2', 'eval loss 1.5000'],
    ['/runs/r/checkpoints/step-4', 'step 4 ★', 'eval loss 1.2000'],
    ['/runs/r/adapter', 'adapter (final, step 6)', ''],
  ]);
  // No best: as before.
  assert.deepEqual(checkpointEntries(runWith(undefined)).map((e) => (e.kind === 'checkpoint' ? checkpointLabel(e).label : '')), ['step 2', 'step 4', 'adapter (final, step 6)']);
});

test('playground: the best adapter is offered first', () => {
  const [choice] = modelChoices([runWith({ metric: 'exact_match', value: 0.5, step: 4, path: '/runs/r/best' })]);
  assert.deepEqual(choice.adapters.map((a) => a.path), ['/runs/r/best', '/runs/r/adapter', '/runs/r/checkpoints/step-4', '/runs/r/checkpoints/step-2']);
  assert.match(choice.adapters[0].label, /★ best \(step 4, exact_match 0\.5\)/);
});

test('run store: best/best.json becomes the run\'s best; a malformed one is ignored', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ftune-bestrun-'));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  assert.equal(readRun(dir, () => false)?.best, undefined);
  fs.mkdirSync(path.join(dir, 'best'));
  fs.writeFileSync(path.join(dir, 'best', 'best.json'), JSON.stringify({ metric: 'exact_match', value: 0.5, step: 4, path: '/elsewhere' }));
  assert.deepEqual(readRun(dir, () => false)?.best, { metric: 'exact_match', value: 0.5, step: 4, path: path.join(dir, 'best') });
  fs.writeFileSync(path.join(dir, 'best', 'best.json'), JSON.stringify({ metric: 'accuracy', value: 0.5, step: 4 }));
  assert.equal(readBestEvaluation(dir), undefined);
});

test('CSV export: generation metrics as extra columns when a run has them, on their evaluation rows', () => {
  const rows = metricsCsv([{ label: 'a', metrics: collectMetrics(events) }], 0).trimEnd().split('\n');
  assert.match(rows[0], /,eval_loss,perplexity,exact_match$/);
  assert.deepEqual(rows.slice(1).map((r) => [r.split(',')[1], r.split(',').at(-1)]), [['0', '0'], ['1', ''], ['2', '0.25'], ['3', ''], ['4', '0.5'], ['5', ''], ['6', '0.5']]);
  assert.match(metricsCsv([{ label: 'b', metrics: collectMetrics([step(1, 1)]) }], 0).split('\n')[0], /,eval_loss,perplexity$/);
});
