import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LossRunPayload, TrainerEvent } from '../../src/core/protocol';
import { DEFAULT_RUN_CONFIG, type Quantize, type RunConfig } from '../../src/core/runConfig';
import { CSV_COLUMNS, csvField, metricsCsv } from '../../webview/lib/csv';
import { buildSeries, collectMetrics, extraSeries, methodChartTitle, runHeaderText, runOutcome, tokensAtStep, xOfStep } from '../../webview/lib/metrics';
import { dragToRange } from '../../webview/lib/range';

const step = (n: number, loss: number, extra: Partial<Extract<TrainerEvent, { type: 'step' }>> = {}): TrainerEvent => ({
  type: 'step', step: n, total_steps: 4, epoch: n / 4, loss, lr: 1e-3 * n, grad_norm: 0.5, tokens_per_second: 100 * n,
  tokens_seen: 256 * n, elapsed: n, ...extra,
});
const evalAt = (n: number, loss: number): TrainerEvent => ({ type: 'eval', step: n, eval_loss: loss, perplexity: Math.exp(loss) });

test('collectMetrics sorts by step and lets a re-logged (resumed) step replace the old one', () => {
  const m = collectMetrics([step(2, 1.5), step(1, 2.0), evalAt(2, 1.9), step(2, 1.4), { type: 'log', level: 'info', message: 'x' }]);
  assert.deepEqual(m.steps.map((s) => [s.step, s.loss]), [[1, 2.0], [2, 1.4]]);
  assert.deepEqual(m.evals.map((e) => e.step), [2]);
  assert.equal((m.steps[0] as unknown as { type?: string }).type, undefined);
});

test('the tokens axis places evaluations at the tokens seen by their step', () => {
  const m = collectMetrics([step(1, 2), step(2, 1.8), step(3, 1.7), evalAt(2, 1.9), evalAt(3, 1.85)]);
  assert.equal(tokensAtStep(m.steps, 2), 512);
  assert.equal(tokensAtStep(m.steps, 0), 0);
  assert.equal(tokensAtStep(m.steps, 99), 768);
  const byTokens = buildSeries(m, 'tokens', 0);
  assert.deepEqual(byTokens.evalLoss, [{ x: 512, y: 1.9 }, { x: 768, y: 1.85 }]);
  assert.deepEqual(byTokens.trainRaw.map((p) => p.x), [256, 512, 768]);
  const bySteps = buildSeries(m, 'step', 0);
  assert.deepEqual(bySteps.tokensPerSecond, [{ x: 1, y: 100 }, { x: 2, y: 200 }, { x: 3, y: 300 }]);
  assert.deepEqual(bySteps.perplexity.map((p) => p.y), [Math.exp(1.9), Math.exp(1.85)]);
  assert.equal(xOfStep(m, 'tokens', 3), 768);
  assert.equal(xOfStep(m, 'step', 3), 3);
});

test('the smoothed series follows the smoothing weight', () => {
  const m = collectMetrics([step(1, 2), step(2, 1), step(3, 2), step(4, 1)]);
  const raw = buildSeries(m, 'step', 0);
  const smooth = buildSeries(m, 'step', 0.9);
  assert.deepEqual(raw.trainSmoothed, raw.trainRaw);
  assert.notDeepEqual(smooth.trainSmoothed.map((p) => p.y), raw.trainRaw.map((p) => p.y));
  assert.equal(smooth.trainSmoothed[0].y, 2);
});

test('runOutcome reads the last terminal event of the current session', () => {
  assert.equal(runOutcome([step(1, 1)]), undefined);
  assert.equal(runOutcome([step(1, 1), { type: 'stopped', step: 1 }]), 'stopped');
  const started = { type: 'started', run_id: 'r', method: 'sft', model: 'm', backend: 'cpu', total_steps: 2, examples: 1, skipped: 0, trainable_parameters: 1, config: {} as never, resumed_from_step: 1, time: '' } as TrainerEvent;
  assert.equal(runOutcome([{ type: 'stopped', step: 1 }, started, step(2, 1)]), undefined);
  assert.equal(runOutcome([started, { type: 'done', step: 2, adapter_path: 'a', elapsed: 2 }]), 'done');
});

test('CSV: header, one row per step, eval on the row of its step, eval-only steps kept', () => {
  const m = collectMetrics([step(1, 2), step(2, 1.5), evalAt(2, 1.8), evalAt(3, 1.7)]);
  const csv = metricsCsv([{ label: 'run-a', metrics: m }], 0);
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines[0], CSV_COLUMNS.join(','));
  assert.equal(lines.length, 4);
  const rows = lines.slice(1).map((l) => l.split(','));
  const col = (name: string): number => CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number]);
  assert.deepEqual(rows.map((r) => r[col('step')]), ['1', '2', '3']);
  assert.equal(rows[0][col('eval_loss')], '');
  assert.equal(rows[1][col('eval_loss')], '1.8');
  assert.equal(rows[1][col('loss')], '1.5');
  assert.equal(rows[1][col('tokens_seen')], '512');
  assert.equal(rows[2][col('loss')], '');
  assert.equal(rows[2][col('eval_loss')], '1.7');
  assert.ok(Math.abs(Number(rows[1][col('perplexity')]) - Math.exp(1.8)) < 1e-12);
});

test('CSV: smoothed column uses the weight; several runs are stacked', () => {
  const m = collectMetrics([step(1, 2), step(2, 1)]);
  const csv = metricsCsv([{ label: 'a', metrics: m }, { label: 'b', metrics: m }], 0.5);
  const rows = csv.trimEnd().split('\n').slice(1).map((l) => l.split(','));
  assert.deepEqual(rows.map((r) => r[0]), ['a', 'a', 'b', 'b']);
  const smoothed = Number(rows[1][CSV_COLUMNS.indexOf('loss_smoothed')]);
  assert.ok(Math.abs(smoothed - (0.5 * 0.5 * 2 + 0.5 * 1) / 0.75) < 1e-12);
});

test('CSV fields with commas, quotes or newlines are quoted', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(undefined), '');
  assert.equal(csvField(1e-7), '1e-7');
  const csv = metricsCsv([{ label: 'run, "quoted"', metrics: collectMetrics([step(1, 1)]) }], 0);
  assert.ok(csv.split('\n')[1].startsWith('"run, ""quoted""",1,'));
});

test('drag-to-zoom turns a drag (either direction) into a data range clamped to the plot area', () => {
  const area = { left: 50, right: 450 };
  const toValue = (px: number): number => (px - 50) / 4; // 0..100 over the plot area
  assert.deepEqual(dragToRange(100, 250, area, toValue), { min: 12.5, max: 50 });
  assert.deepEqual(dragToRange(250, 100, area, toValue), { min: 12.5, max: 50 });
  assert.deepEqual(dragToRange(10, 500, area, toValue), { min: 0, max: 100 });
  assert.equal(dragToRange(100, 103, area, toValue), undefined, 'a click is not a selection');
  assert.equal(dragToRange(460, 600, area, toValue), undefined, 'entirely outside the plot area');
});

test('extraSeries: each method metric becomes its own series; eval ones are marked and named', () => {
  const dpoStep = (n: number, margin: number): TrainerEvent => ({ ...step(n, 0.6), extra: { 'rewards/margins': margin, 'rewards/accuracies': n / 4 } } as TrainerEvent);
  const m = collectMetrics([dpoStep(1, 0.1), dpoStep(2, 0.3), { type: 'eval', step: 2, eval_loss: 0.5, perplexity: 1.6, extra: { 'rewards/accuracies': 0.75 } }]);
  const series = extraSeries(m, 'step');
  assert.deepEqual(series.map((s) => [s.name, s.eval]), [['rewards/margins', false], ['rewards/accuracies', false], ['eval rewards/accuracies', true]]);
  assert.deepEqual(series[0].data, [{ x: 1, y: 0.1 }, { x: 2, y: 0.3 }]);
  assert.deepEqual(series[2].data, [{ x: 2, y: 0.75 }]);
  assert.deepEqual(extraSeries(collectMetrics([step(1, 2)]), 'step'), [], 'SFT has no method metrics');
});

test('methodChartTitle: the registry names the method and its headline metric when all runs share one', () => {
  assert.equal(methodChartTitle(['grpo']), 'GRPO (RLHF step 2) — watch reward');
  assert.equal(methodChartTitle(['dpo', 'dpo']), 'Direct preference optimisation (DPO) — watch rewards/accuracies');
  assert.equal(methodChartTitle(['dpo', 'grpo']), 'Method metrics');
  assert.equal(methodChartTitle(['sft']), 'Method metrics', 'SFT has no headline beyond the loss');
  assert.equal(methodChartTitle([undefined]), 'Method metrics');
});

test('runHeaderText: the run\'s line in the panel header names a quantized base (run_config.json quantize)', () => {
  const config = (quantize: Quantize, full = false): RunConfig => ({ ...DEFAULT_RUN_CONFIG, model: '/m', data: '/d.jsonl', out: '/runs/r', quantize, full });
  const payload = (c: RunConfig | null): LossRunPayload => ({ run_dir: '/runs/r', label: 'r', config: c, events: [started, step(1, 2.5), step(2, 2.25), evalAt(2, 2.4)] });
  const started: TrainerEvent = {
    type: 'started', run_id: 'r', method: 'sft', model: '/m', backend: 'wasm', total_steps: 4, examples: 8, skipped: 0, trainable_parameters: 10,
    config: config('nf4'), resumed_from_step: 0, time: '',
  };
  const header = (c: RunConfig | null) => runHeaderText(payload(c), collectMetrics(payload(c).events));
  assert.equal(header(config('nf4')), 'r · nf4 base · running · step 2/4 · loss 2.25 · eval 2.4');
  assert.equal(header(config('int8')), 'r · int8 base · running · step 2/4 · loss 2.25 · eval 2.4');
  // as stored (the default), full fine-tuning and a missing run_config.json carry no mark
  for (const c of [config('none'), config('none', true), null]) assert.equal(header(c), 'r · running · step 2/4 · loss 2.25 · eval 2.4');
  assert.equal(runHeaderText({ run_dir: '/runs/q', label: 'q', config: config('nf4'), events: [] }, collectMetrics([])), 'q · nf4 base · no metrics yet');
});
