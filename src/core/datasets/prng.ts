// A seeded PRNG whose output depends only on the seed: 32-bit integer arithmetic (Math.imul,
// >>> 0) is exact on every JS engine, and dividing a uint32 by 2^32 is an exact double, so the
// same seed shuffles the same way on any machine. Algorithm: mulberry32 (Tommy Ettinger).

export { mulberry32 } from '../random';

/** Fisher–Yates shuffle of a copy, driven by `random`. */
export function seededShuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
