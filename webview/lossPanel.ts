// Loss panel (browser side): live loss curves of one run, or several runs overlaid ("Compare runs").
// Data arrives from the extension host (history, then live TrainerEvents); everything shown is derived
// from it here. Model/run text is only ever set through textContent.

import type { Chart } from 'chart.js';
import { detectOverfitting, DEFAULT_OVERFIT_PATIENCE, type OverfitAlarm } from '../src/core/overfit.js';
import { isHostToLossPanel, type HostToLossPanel, type LossPanelToHost, type LossRunPayload, type LossXAxis } from '../src/core/protocol.js';
import { metricsCsv } from './lib/csv.js';
import { hparamTable } from './lib/hparams.js';
import { buildSeries, collectMetrics, extraSeries, formatNumber, methodChartTitle, runHeaderText, xOfStep, type ExtraSeries, type RunMetrics, type RunSeries, type SeriesKey, type XY } from './lib/metrics.js';
import type { XRange } from './lib/range.js';
import { onThemeChange, themeColors, withAlpha, type ThemeColors } from './lib/theme.js';
import { el } from './lib/dom.js';
import { vscodeApi } from './lib/vscodeApi.js';
import { applyTheme, attachRangeSelect, createLineChart, registerChartParts, setMarkers, setXRange, type LineDataset, type Marker } from './loss/chartKit.js';
import { button, checkbox, dropdown, initUi } from './ui.js';
import { bestEvaluation, GENERATION_CHART_TITLES, generationSeries } from './lib/evalMetrics.js';
import { GENERATION_METRIC_KEYS, type GenerationMetricKey } from '../src/core/bestMetric.js';

/** What survives a reload (vscode.setState); the serializer reopens the panel for `run_dirs`. */
export interface LossPanelState {
  run_dirs: string[];
  x_axis: LossXAxis;
  smoothing: number;
  range?: XRange;
  only_differences: boolean;
  hidden: string[];
}

interface RunView {
  payload: LossRunPayload;
  metrics: RunMetrics;
  alarms: OverfitAlarm[];
}

interface ChartSpec {
  id: string;
  title: string;
  series: { key: SeriesKey; name: string; style: 'raw' | 'main' | 'eval' }[];
  /** a generation metric's chart (--eval-metric); hidden while no run reports it. */
  generation?: GenerationMetricKey;
}

const CHARTS: ChartSpec[] = [
  {
    id: 'loss',
    title: 'Loss',
    series: [
      { key: 'trainRaw', name: 'train', style: 'raw' },
      { key: 'trainSmoothed', name: 'train (smoothed)', style: 'main' },
      { key: 'evalLoss', name: 'eval', style: 'eval' },
    ],
  },
  { id: 'perplexity', title: 'Eval perplexity', series: [{ key: 'perplexity', name: 'perplexity', style: 'eval' }] },
  { id: 'lr', title: 'Learning rate', series: [{ key: 'lr', name: 'lr', style: 'main' }] },
  { id: 'grad-norm', title: 'Grad norm', series: [{ key: 'gradNorm', name: 'grad norm', style: 'main' }] },
  { id: 'tokens-per-second', title: 'Tokens / s', series: [{ key: 'tokensPerSecond', name: 'tokens/s', style: 'main' }] },
  // DPO rewards, reward-model accuracy, GRPO reward / KL / length: series come from the events themselves.
  { id: 'method', title: 'Method metrics', series: [] },
  // Generation metrics computed while training, from the base model (step 0) on.
  ...GENERATION_METRIC_KEYS.map((key): ChartSpec => ({ id: `gen-${key}`, title: GENERATION_CHART_TITLES[key], series: [], generation: key })),
];

const vscode = vscodeApi<LossPanelState>();
const post = (message: LossPanelToHost): void => vscode.postMessage(message);

const state = restoreState(vscode.getState());
let runs: RunView[] = [];
let patience = DEFAULT_OVERFIT_PATIENCE;
let colors: ThemeColors;
const charts = new Map<string, Chart<'line', XY[]>>();

/** The saved state over the defaults; anything malformed (an older version's state) is dropped. */
function restoreState(saved: Partial<LossPanelState> | undefined): LossPanelState {
  const state: LossPanelState = { run_dirs: [], x_axis: 'step', smoothing: 0.6, only_differences: false, hidden: [] };
  if (!saved || typeof saved !== 'object') return state;
  if (Array.isArray(saved.run_dirs)) state.run_dirs = saved.run_dirs.filter((d) => typeof d === 'string');
  if (saved.x_axis === 'tokens') state.x_axis = 'tokens';
  if (typeof saved.smoothing === 'number' && saved.smoothing >= 0 && saved.smoothing < 1) state.smoothing = saved.smoothing;
  if (typeof saved.only_differences === 'boolean') state.only_differences = saved.only_differences;
  if (Array.isArray(saved.hidden)) state.hidden = saved.hidden.filter((h) => typeof h === 'string');
  const range = saved.range;
  if (range && Number.isFinite(range.min) && Number.isFinite(range.max) && range.max > range.min) state.range = { min: range.min, max: range.max };
  return state;
}

function saveState(): void {
  vscode.setState(state);
}

// ------------------------------------------------------------------ layout

const root = document.getElementById('root') as HTMLElement;
const header = el('header', { class: 'toolbar' });
const runsLine = el('div', { id: 'runs', class: 'runs' });
const alarmsBox = el('div', { id: 'alarms', class: 'alarms', role: 'alert' });
const chartsBox = el('div', { id: 'charts', class: 'charts' });
const hparamsBox = el('section', { id: 'hparams', class: 'hparams' });
const statusLine = el('div', { id: 'status', class: 'status', 'aria-live': 'polite' });

function buildToolbar(): void {
  const xAxis = dropdown(
    [
      { value: 'step', label: 'x: step' },
      { value: 'tokens', label: 'x: tokens seen' },
    ],
    state.x_axis,
    (value) => {
      state.x_axis = value === 'tokens' ? 'tokens' : 'step';
      state.range = undefined;
      saveState();
      redraw();
    },
    'x-axis',
  );

  const smoothingLabel = el('label', { for: 'smoothing', class: 'slider-label' }, 'Smoothing');
  const smoothing = el('input', { id: 'smoothing', type: 'range', min: '0', max: '0.99', step: '0.01' });
  smoothing.value = String(state.smoothing);
  const smoothingValue = el('span', { id: 'smoothing-value', class: 'slider-value' }, state.smoothing.toFixed(2));
  smoothing.addEventListener('input', () => {
    state.smoothing = Number(smoothing.value);
    smoothingValue.textContent = state.smoothing.toFixed(2);
    saveState();
    scheduleRedraw();
  });

  const reset = button('Reset zoom', () => setRange(undefined), { appearance: 'secondary', id: 'reset-zoom', title: 'Show the full x range (or double-click a chart)' });
  const png = button('Export PNG', exportPng, { appearance: 'secondary', id: 'export-png' });
  const csv = button('Export CSV', exportCsv, { appearance: 'secondary', id: 'export-csv' });
  const hint = el('span', { class: 'hint' }, 'Drag across a chart to zoom.');
  header.replaceChildren(xAxis.element, smoothingLabel, smoothing, smoothingValue, reset, png, csv, hint);
}

function buildCharts(): void {
  chartsBox.replaceChildren();
  charts.clear();
  for (const spec of CHARTS) {
    const box = el('div', { class: `chart-box chart-${spec.id}`, id: `chart-box-${spec.id}` });
    const canvas = el('canvas', { id: `chart-${spec.id}`, role: 'img', 'aria-label': `${spec.title} chart` });
    const overlay = el('div', { class: 'selection' });
    overlay.hidden = true;
    box.append(canvas, overlay);
    chartsBox.append(box);
    const chart = createLineChart(canvas, spec.title, xTitle(), colors);
    chart.options.plugins!.legend!.onClick = (_event, item) => toggleSeries(item.text);
    applyTheme(chart, colors);
    attachRangeSelect(chart, overlay, setRange);
    charts.set(spec.id, chart);
  }
}

function xTitle(): string {
  return state.x_axis === 'tokens' ? 'tokens seen' : 'step';
}

// ------------------------------------------------------------------ data → charts

function datasetLabel(run: RunView, name: string): string {
  return runs.length > 1 ? `${run.payload.label} · ${name}` : name;
}

function datasetFor(run: RunView, runIndex: number, series: RunSeries, item: ChartSpec['series'][number]): LineDataset {
  const color = colors.palette[runIndex % colors.palette.length];
  const label = datasetLabel(run, item.name);
  const width = colors.highContrast ? 2.5 : 1.75;
  const base: LineDataset = {
    label,
    data: series[item.key],
    borderColor: color,
    backgroundColor: color,
    borderWidth: width,
    pointRadius: 0,
    pointHoverRadius: 4,
    tension: 0,
    hidden: state.hidden.includes(label),
  };
  if (item.style === 'raw') return { ...base, borderColor: withAlpha(color, 0.3), backgroundColor: withAlpha(color, 0.3), borderWidth: 1 };
  if (item.style === 'eval') return { ...base, borderDash: [6, 3], pointRadius: 3, pointStyle: 'rectRot' };
  return base;
}

function extraDataset(run: RunView, runIndex: number, seriesIndex: number, series: ExtraSeries): LineDataset {
  const color = colors.palette[(runIndex + seriesIndex) % colors.palette.length];
  const label = datasetLabel(run, series.name);
  const base: LineDataset = {
    label, data: series.data, borderColor: color, backgroundColor: color, borderWidth: colors.highContrast ? 2.5 : 1.75,
    pointRadius: 0, pointHoverRadius: 4, tension: 0, hidden: state.hidden.includes(label),
  };
  return series.eval ? { ...base, borderDash: [6, 3], pointRadius: 3, pointStyle: 'rectRot' } : base;
}

let redrawPending = false;

/** Batches bursts of live events into one redraw per animation frame. */
function scheduleRedraw(): void {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => {
    redrawPending = false;
    redraw();
  });
}

function redraw(): void {
  const seriesByRun = runs.map((run) => buildSeries(run.metrics, state.x_axis, state.smoothing));
  for (const spec of CHARTS) {
    const chart = charts.get(spec.id);
    if (!chart) continue;
    if (spec.generation) {
      const key = spec.generation;
      chart.data.datasets = runs.map((run, i) => ({
        ...datasetFor(run, i, seriesByRun[i], { key: 'evalLoss', name: GENERATION_CHART_TITLES[key].toLowerCase(), style: 'eval' }),
        data: generationSeries(run.metrics, state.x_axis, key),
      })).filter((d) => d.data.length > 0);
      const box = document.getElementById(`chart-box-${spec.id}`);
      if (box) box.hidden = chart.data.datasets.length === 0;
    } else if (spec.id === 'method') {
      chart.data.datasets = runs.flatMap((run, i) => extraSeries(run.metrics, state.x_axis).map((series, j) => extraDataset(run, i, j, series)));
      const box = document.getElementById(`chart-box-${spec.id}`);
      if (box) box.hidden = chart.data.datasets.length === 0; // SFT and CPT have none
      const y = chart.options.scales?.y;
      if (y?.title) y.title.text = methodChartTitle(runs.map((run) => run.payload.config?.method as string | undefined));
    } else {
      chart.data.datasets = runs.flatMap((run, i) => spec.series.map((item) => datasetFor(run, i, seriesByRun[i], item)));
    }
    const x = chart.options.scales?.x;
    if (x?.title) x.title.text = xTitle();
    setXRange(chart, state.range);
    // The best evaluation on every chart; the overfitting alarm on the loss chart.
    setMarkers(chart, [...(spec.id === 'loss' ? alarmMarkers() : []), ...bestMarkers()]);
    chart.canvas.parentElement?.setAttribute('data-best', bestMarkers().map((m) => m.label).join(' | '));
    chart.update('none');
    // the legend is drawn on the canvas; its entries are mirrored here for tests and screen readers
    const legend = (chart.legend?.legendItems ?? []).map((item) => item.text);
    chart.canvas.parentElement?.setAttribute('data-legend', legend.join(' | '));
    chart.canvas.setAttribute('aria-label', `${spec.title} chart: ${legend.join(', ')}`);
  }
  const trainPoints = runs.reduce((n, r) => n + r.metrics.steps.length, 0);
  const evalPoints = runs.reduce((n, r) => n + r.metrics.evals.length, 0);
  // read by the end-to-end tests (and handy when debugging): what is actually plotted
  chartsBox.dataset.runs = String(runs.length);
  chartsBox.dataset.trainPoints = String(trainPoints);
  chartsBox.dataset.evalPoints = String(evalPoints);
  chartsBox.dataset.alarms = String(runs.reduce((n, r) => n + r.alarms.length, 0));
  (document.getElementById('reset-zoom') as (HTMLElement & { disabled: boolean }) | null)?.toggleAttribute('disabled', state.range === undefined);
  renderRunsLine();
  renderAlarms();
}

function alarmMarkers(): Marker[] {
  return runs.flatMap((run) =>
    run.alarms.map((alarm) => ({
      x: xOfStep(run.metrics, state.x_axis, alarm.step),
      label: runs.length > 1 ? `${run.payload.label}: overfitting?` : 'overfitting?',
    })),
  );
}

function bestMarkers(): Marker[] {
  return runs.flatMap((run) => {
    const best = bestEvaluation(run.payload.events, run.metrics, run.payload.config);
    if (!best) return [];
    const label = `★ best ${best.metric} ${formatNumber(best.value)} (step ${best.step})`;
    return [{ x: xOfStep(run.metrics, state.x_axis, best.step), label: runs.length > 1 ? `${run.payload.label}: ${label}` : label }];
  });
}

function toggleSeries(label: string): void {
  state.hidden = state.hidden.includes(label) ? state.hidden.filter((l) => l !== label) : [...state.hidden, label];
  saveState();
  redraw();
}

function setRange(range: XRange | undefined): void {
  // steps and token counts are whole numbers: whole-number bounds read better on the axis
  state.range = range && { min: Math.floor(range.min), max: Math.ceil(range.max) };
  saveState();
  redraw();
}

function renderRunsLine(): void {
  runsLine.replaceChildren(
    ...runs.map((run, i) => {
      const item = el('span', { class: 'run' });
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = colors.palette[i % colors.palette.length];
      item.append(swatch, el('span', { title: run.payload.run_dir }, runHeaderText(run.payload, run.metrics)));
      return item;
    }),
  );
}

function renderAlarms(): void {
  const items = runs.flatMap((run) =>
    run.alarms.map((alarm) =>
      el(
        'div',
        { class: 'alarm' },
        `⚠ ${runs.length > 1 ? `${run.payload.label}: ` : ''}possible overfitting at step ${alarm.step} — eval loss rose ${alarm.rises}× in a row ` +
          `(${formatNumber(alarm.best_eval_loss)} at step ${alarm.best_step} → ${formatNumber(alarm.eval_loss)}) while train loss fell. ` +
          `Keep the checkpoint near step ${alarm.best_step}; try fewer epochs, a lower learning rate, more weight decay or more data.`,
      ),
    ),
  );
  alarmsBox.replaceChildren(...items);
  alarmsBox.hidden = items.length === 0;
}

function renderHparams(): void {
  const rows = hparamTable(
    runs.map((r) => r.payload.config),
    state.only_differences && runs.length > 1,
  );
  const title = el('h2', {}, runs.length > 1 ? 'Hyper-parameters (differences highlighted)' : 'Hyper-parameters');
  const controls = el('div', { class: 'hparam-controls' });
  if (runs.length > 1) {
    controls.append(
      checkbox('Only differences', state.only_differences, (checked) => {
        state.only_differences = checked;
        saveState();
        renderHparams();
      }, 'only-differences'),
    );
  }
  const table = el('table', { id: 'hparam-table' });
  const head = el('tr');
  head.append(el('th', {}, 'parameter'), ...runs.map((r) => el('th', { title: r.payload.run_dir }, r.payload.label)));
  table.append(el('thead'), el('tbody'));
  table.tHead!.append(head);
  for (const row of rows) {
    const tr = el('tr', row.differs && runs.length > 1 ? { class: 'differs' } : {});
    tr.append(el('td', { class: 'key' }, row.key), ...row.values.map((v) => el('td', {}, v)));
    table.tBodies[0].append(tr);
  }
  hparamsBox.replaceChildren(title, controls, rows.length > 0 ? table : el('p', { class: 'hint' }, 'No run_config.json found.'));
}

// ------------------------------------------------------------------ host messages

function viewOf(payload: LossRunPayload): RunView {
  const metrics = collectMetrics(payload.events);
  return { payload, metrics, alarms: alarmsOf(metrics) };
}

function alarmsOf(metrics: RunMetrics): OverfitAlarm[] {
  return detectOverfitting(
    metrics.steps.map((s) => ({ step: s.step, loss: s.loss })),
    metrics.evals.map((e) => ({ step: e.step, eval_loss: e.eval_loss })),
    { patience },
  );
}

function onMessage(message: HostToLossPanel): void {
  switch (message.type) {
    case 'init':
      patience = message.overfit_patience;
      runs = message.runs.map(viewOf);
      state.run_dirs = message.runs.map((r) => r.run_dir);
      saveState();
      renderHparams();
      redraw();
      break;
    case 'events': {
      const run = runs.find((r) => r.payload.run_dir === message.run_dir);
      if (!run) return;
      run.payload.events.push(...message.events);
      if (message.events.some((e) => e.type === 'step' || e.type === 'eval')) {
        run.metrics = collectMetrics(run.payload.events);
        run.alarms = alarmsOf(run.metrics);
      }
      scheduleRedraw();
      break;
    }
    case 'exported':
      statusLine.textContent = message.error ? `Export failed: ${message.error}` : message.path ? `Saved ${message.path}` : '';
      break;
  }
}

// ------------------------------------------------------------------ exports

/** All charts drawn onto one canvas in their on-screen layout, over the theme's background. */
function exportPng(): void {
  const boxRect = chartsBox.getBoundingClientRect();
  const scale = window.devicePixelRatio || 1;
  const out = document.createElement('canvas');
  out.width = Math.round(boxRect.width * scale);
  out.height = Math.round(boxRect.height * scale);
  const ctx = out.getContext('2d');
  if (!ctx) return;
  ctx.fillStyle = colors.background;
  ctx.fillRect(0, 0, out.width, out.height);
  for (const chart of charts.values()) {
    const rect = chart.canvas.getBoundingClientRect();
    ctx.drawImage(chart.canvas, (rect.left - boxRect.left) * scale, (rect.top - boxRect.top) * scale, rect.width * scale, rect.height * scale);
  }
  post({ type: 'exportPng', data_url: out.toDataURL('image/png') });
}

function exportCsv(): void {
  post({ type: 'exportCsv', csv: metricsCsv(runs.map((r) => ({ label: r.payload.label, metrics: r.metrics })), state.smoothing) });
}

// ------------------------------------------------------------------ start

function start(): void {
  initUi();
  registerChartParts();
  colors = themeColors();
  root.append(header, runsLine, alarmsBox, chartsBox, statusLine, hparamsBox);
  alarmsBox.hidden = true;
  buildToolbar();
  buildCharts();
  onThemeChange(() => {
    colors = themeColors();
    for (const chart of charts.values()) applyTheme(chart, colors);
    redraw();
  });
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (isHostToLossPanel(event.data)) onMessage(event.data);
  });
  post({ type: 'ready' });
}

start();
