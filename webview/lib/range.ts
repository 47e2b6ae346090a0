// Drag-to-select zoom on the x-axis (chart.js has no zoom built in and no plugin is added for it):
// a horizontal drag over a chart becomes an x range applied to every chart of the panel.

export interface XRange {
  min: number;
  max: number;
}

/** Shorter drags than this are clicks, not selections. */
export const MIN_DRAG_PIXELS = 6;

/**
 * The data range between two pixel positions of a drag (either direction), clamped to the plot area
 * [left, right]. Undefined for a click or a drag that collapses to nothing after clamping.
 */
export function dragToRange(
  startPx: number,
  endPx: number,
  area: { left: number; right: number },
  pixelToValue: (px: number) => number,
): XRange | undefined {
  const clamp = (px: number): number => Math.min(Math.max(px, area.left), area.right);
  const a = clamp(Math.min(startPx, endPx));
  const b = clamp(Math.max(startPx, endPx));
  if (b - a < MIN_DRAG_PIXELS) return undefined;
  const min = pixelToValue(a);
  const max = pixelToValue(b);
  if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min) return undefined;
  return { min, max };
}
