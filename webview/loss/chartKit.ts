// chart.js set-up for the loss panel: the parts we register (tree-shaken bundle), a hover mode that
// shows every series' value at the cursor, vertical markers (overfitting alarm), and drag-to-zoom.

import {
  Chart,
  Interaction,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartDataset,
  type ChartEvent,
  type ChartType,
  type InteractionItem,
  type InteractionModeFunction,
  type Plugin,
} from 'chart.js';
import { formatNumber } from '../lib/metrics.js';
import { dragToRange, type XRange } from '../lib/range.js';
import { withAlpha, type ThemeColors } from '../lib/theme.js';

declare module 'chart.js' {
  interface InteractionModeMap {
    nearestPerDataset: InteractionModeFunction;
  }
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- a module augmentation must repeat chart.js's type parameter
  interface PluginOptionsByType<TType extends ChartType> {
    markers?: { color: string };
  }
}

export interface Marker {
  x: number;
  label: string;
}

/** Hover distance (pixels) within which a series' nearest point is shown in the tooltip. */
const HOVER_PIXELS = 48;

/**
 * For each visible series, the point nearest to the cursor along x (binary search: x is sorted).
 * chart.js's own modes either need the same indices in every series (ours differ: eval points are
 * sparse) or return a single point.
 */
const nearestPerDataset: InteractionModeFunction = (chart: Chart, event: ChartEvent): InteractionItem[] => {
  const x = event.x;
  const area = chart.chartArea;
  if (x === null || x < area.left || x > area.right) return [];
  const items: InteractionItem[] = [];
  chart.data.datasets.forEach((_dataset, datasetIndex) => {
    if (!chart.isDatasetVisible(datasetIndex)) return;
    const elements = chart.getDatasetMeta(datasetIndex).data;
    if (elements.length === 0) return;
    let lo = 0;
    let hi = elements.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (elements[mid].x < x) lo = mid + 1;
      else hi = mid;
    }
    const candidates = [lo - 1, lo].filter((i) => i >= 0 && i < elements.length);
    const best = candidates.reduce((a, b) => (Math.abs(elements[a].x - x) <= Math.abs(elements[b].x - x) ? a : b));
    if (Math.abs(elements[best].x - x) <= HOVER_PIXELS) items.push({ element: elements[best], datasetIndex, index: best });
  });
  return items;
};

/**
 * Marker lines per chart. Kept outside chart.options on purpose: chart.js wraps option objects in
 * resolver proxies, and iterating an array of objects through them fails.
 */
const markersByChart = new WeakMap<Chart, Marker[]>();

export function setMarkers(chart: Chart<'line', { x: number; y: number }[]>, markers: Marker[]): void {
  markersByChart.set(chart as unknown as Chart, markers);
}

const markerPlugin: Plugin<'line'> = {
  id: 'markers',
  afterDatasetsDraw(chart, _args, options: { color?: string }) {
    const lines = markersByChart.get(chart as unknown as Chart) ?? [];
    if (lines.length === 0) return;
    const { ctx, chartArea } = chart;
    const scale = chart.scales.x;
    ctx.save();
    ctx.strokeStyle = options.color ?? 'orange';
    ctx.fillStyle = options.color ?? 'orange';
    ctx.lineWidth = 1.5;
    ctx.setLineDash([5, 4]);
    ctx.font = '11px sans-serif';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'top';
    for (const marker of lines) {
      const px = scale.getPixelForValue(marker.x);
      if (px < chartArea.left || px > chartArea.right) continue;
      ctx.beginPath();
      ctx.moveTo(px, chartArea.top);
      ctx.lineTo(px, chartArea.bottom);
      ctx.stroke();
      ctx.fillText(marker.label, px - 4, chartArea.top + 4);
    }
    ctx.restore();
  },
};

let registered = false;

export function registerChartParts(): void {
  if (registered) return;
  registered = true;
  Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, markerPlugin);
  // custom interaction modes live on the Interaction namespace (typed through InteractionModeMap above)
  Interaction.modes.nearestPerDataset = nearestPerDataset;
}

export type LineDataset = ChartDataset<'line', { x: number; y: number }[]>;

export function createLineChart(canvas: HTMLCanvasElement, title: string, xTitle: string, colors: ThemeColors): Chart<'line', { x: number; y: number }[]> {
  return new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearestPerDataset', intersect: false },
      scales: {
        // steps and token counts are whole numbers: no 2.5 ticks
        x: { type: 'linear', title: { display: true, text: xTitle }, ticks: { precision: 0 } },
        y: { type: 'linear', title: { display: true, text: title } },
      },
      plugins: {
        legend: { display: true, position: 'bottom', labels: { boxWidth: 12, boxHeight: 2 } },
        tooltip: {
          callbacks: {
            title: (items) => (items.length > 0 ? `${xTitle} ${formatNumber(items[0].parsed.x ?? 0)}` : ''),
            label: (item) => `${item.dataset.label ?? ''}: ${formatNumber(item.parsed.y ?? NaN)}`,
          },
        },
        markers: { color: colors.warning },
      },
    },
  });
}

/**
 * Re-applies theme colours (called at creation and when VS Code switches theme). Properties are set one
 * by one: after creation chart.options are resolver proxies, which must not be spread.
 */
export function applyTheme(chart: Chart<'line', { x: number; y: number }[]>, colors: ThemeColors): void {
  const options = chart.options;
  for (const axis of ['x', 'y'] as const) {
    const scale = options.scales?.[axis];
    if (!scale || scale.type !== 'linear') continue;
    if (scale.ticks) scale.ticks.color = colors.muted;
    if (scale.grid) scale.grid.color = colors.grid;
    if (scale.border) scale.border.color = colors.grid;
    if (scale.title) scale.title.color = colors.foreground;
  }
  if (options.plugins?.legend?.labels) options.plugins.legend.labels.color = colors.foreground;
  if (options.plugins?.markers) options.plugins.markers.color = colors.warning;
  if (options.plugins?.tooltip) {
    options.plugins.tooltip.backgroundColor = withAlpha(colors.background, 0.95);
    options.plugins.tooltip.titleColor = colors.foreground;
    options.plugins.tooltip.bodyColor = colors.foreground;
    options.plugins.tooltip.borderColor = colors.grid;
    options.plugins.tooltip.borderWidth = 1;
  }
}

export function setXRange(chart: Chart<'line', { x: number; y: number }[]>, range: XRange | undefined): void {
  const x = chart.options.scales?.x;
  if (!x) return;
  x.min = range?.min;
  x.max = range?.max;
}

/**
 * Drag horizontally over the chart to select an x range; `overlay` (absolutely positioned over the
 * canvas) shows the selection while dragging. A double click asks for the full range again.
 */
export function attachRangeSelect(
  chart: Chart<'line', { x: number; y: number }[]>,
  overlay: HTMLElement,
  onRange: (range: XRange | undefined) => void,
): void {
  const canvas = chart.canvas;
  let start: number | undefined;
  const offsetX = (event: PointerEvent): number => event.clientX - canvas.getBoundingClientRect().left;
  const hide = (): void => {
    overlay.hidden = true;
  };
  canvas.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    start = offsetX(event);
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener('pointermove', (event) => {
    if (start === undefined) return;
    const area = chart.chartArea;
    const now = Math.min(Math.max(offsetX(event), area.left), area.right);
    const from = Math.min(Math.max(start, area.left), area.right);
    overlay.hidden = false;
    overlay.style.left = `${canvas.offsetLeft + Math.min(from, now)}px`;
    overlay.style.width = `${Math.abs(now - from)}px`;
    overlay.style.top = `${canvas.offsetTop + area.top}px`;
    overlay.style.height = `${area.bottom - area.top}px`;
  });
  canvas.addEventListener('pointerup', (event) => {
    if (start === undefined) return;
    const range = dragToRange(start, offsetX(event), chart.chartArea, (px) => chart.scales.x.getValueForPixel(px) ?? NaN);
    start = undefined;
    hide();
    if (range) onRange(range);
  });
  canvas.addEventListener('pointercancel', () => {
    start = undefined;
    hide();
  });
  canvas.addEventListener('dblclick', () => onRange(undefined));
}
