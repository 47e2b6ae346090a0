// Exponential moving average of a loss curve, computed exactly as TensorBoard's scalar dashboard does
// it, so a curve smoothed here looks like the same run smoothed there:
//   - the running average starts at 0 and is debiased by 1 - weight^n (Adam-style), so the first
//     points are not dragged towards zero;
//   - non-finite values (NaN, ±Infinity) are passed through and do not enter the average, so one bad
//     step does not poison the rest of the curve;
//   - a constant series stays exactly constant (the debiasing division would otherwise add float noise).

/** Smoothing weight in [0, 1): 0 = raw values, 0.99 = very smooth. Values outside are clamped. */
export function clampSmoothingWeight(weight: number): number {
  if (!Number.isFinite(weight) || weight <= 0) return 0;
  return Math.min(weight, 0.999);
}

/** Returns a new array of the same length as `values`. */
export function emaSmooth(values: readonly number[], weight: number): number[] {
  const w = clampSmoothingWeight(weight);
  if (values.length === 0) return [];
  const first = values[0];
  if (w === 0 || values.every((v) => v === first)) return values.slice();
  const smoothed: number[] = new Array<number>(values.length);
  let last = 0;
  let finiteCount = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Number.isFinite(value)) {
      smoothed[i] = value;
      continue;
    }
    last = last * w + (1 - w) * value;
    finiteCount += 1;
    smoothed[i] = last / (1 - Math.pow(w, finiteCount));
  }
  return smoothed;
}
