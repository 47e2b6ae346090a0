// <out>/best/: the weights of the run's best evaluation (--best-metric), with best.json saying which.
// Written like a checkpoint: into a temporary folder, then renamed into place; the previous best is
// moved aside first and removed last, so a crash leaves a complete best/ (or best.old-PID beside it).
import * as fs from 'fs';
import * as path from 'path';
import type { BestRecord } from '../core/bestMetric';
import { writeFileAtomic } from '../core/safetensors';

export const BEST_DIR = 'best';
export const BEST_FILE = 'best.json';

export function bestDir(out: string): string {
  return path.join(out, BEST_DIR);
}

/** Writes `best` with `writeWeights` (the adapter's PEFT files, or the full model) and best.json. */
export async function saveBest(out: string, best: BestRecord, writeWeights: (dir: string) => Promise<void>): Promise<void> {
  const final = bestDir(out);
  const tmp = `${final}.tmp-${process.pid}`;
  const old = `${final}.old-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await writeWeights(tmp);
  writeFileAtomic(path.join(tmp, BEST_FILE), [JSON.stringify(best, null, 2) + '\n']);
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(final)) fs.renameSync(final, old);
  fs.renameSync(tmp, final);
  fs.rmSync(old, { recursive: true, force: true });
}

/** What <out>/best/best.json says, or undefined when there is no complete best. */
export function readBest(out: string): BestRecord | undefined {
  const file = path.join(bestDir(out), BEST_FILE);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as BestRecord;
}

/**
 * Before a run (re)starts: leftovers of a killed write go; a best.old-PID whose best/ never arrived is
 * put back. On a fresh run (not resuming) the previous run's best/ goes too.
 */
export function cleanBest(out: string, resume: boolean): void {
  if (!fs.existsSync(out)) return;
  const final = bestDir(out);
  for (const name of fs.readdirSync(out)) {
    const full = path.join(out, name);
    if (/^best\.tmp-\d+$/.test(name)) fs.rmSync(full, { recursive: true, force: true });
    else if (/^best\.old-\d+$/.test(name)) {
      if (!fs.existsSync(final)) fs.renameSync(full, final);
      else fs.rmSync(full, { recursive: true, force: true });
    }
  }
  if (!resume) fs.rmSync(final, { recursive: true, force: true });
}
