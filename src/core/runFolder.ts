// What `ftune train --out DIR` may do with DIR. A run folder holds only what the trainer and the
// extension write (RUN_FOLDER_ENTRIES); anything else means the folder belongs to someone else and
// is never written into. A run folder that has started training (metrics, checkpoints, a final
// adapter) is continued only with --resume and replaced only with --overwrite, which empties it first,
// so a fresh run can never pick up an older run's checkpoints or optimizer state.

import * as fs from 'fs';
import * as path from 'path';
import { RUN_LOCK_FILE } from './runLock';

/** Top-level names a run folder may contain (the extension's status.json and trainer.log included). */
const RUN_FOLDER_ENTRIES = new Set([
  'run_config.json', 'status.json', 'metrics.jsonl', 'trainer.log', 'chat_template.jinja',
  'checkpoints', 'adapter', 'model', 'exports', 'best', 'tensorboard', RUN_LOCK_FILE,
]);
/** Left by a write that was killed: `<name>.tmp-<pid>` (writeFileAtomic, the final adapter's rename). */
const LEFTOVER = /\.tmp-\d+$/;
/** Entries that mean training has started in the folder. */
const STARTED_ENTRIES = ['metrics.jsonl', 'checkpoints', 'adapter', 'model'];

export type RunFolderState =
  | { kind: 'absent' | 'empty' | 'new-run' | 'started-run' }
  | { kind: 'foreign'; unknown: string[] };

export function inspectRunFolder(dir: string): RunFolderState {
  let entries: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) return { kind: 'foreign', unknown: [path.basename(dir)] };
    entries = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  const ours = entries.filter((e) => e !== RUN_LOCK_FILE);
  if (ours.length === 0) return { kind: 'empty' };
  const unknown = ours.filter((e) => !RUN_FOLDER_ENTRIES.has(e) && !LEFTOVER.test(e));
  // run_config.json must be ours too: a JSON object naming a model.
  if (unknown.length === 0 && ours.includes('run_config.json') && !isRunConfig(path.join(dir, 'run_config.json'))) unknown.push('run_config.json');
  if (unknown.length > 0 || !(ours.includes('run_config.json') || ours.includes('metrics.jsonl'))) {
    return { kind: 'foreign', unknown: unknown.length > 0 ? unknown : ours };
  }
  return { kind: STARTED_ENTRIES.some((e) => ours.includes(e)) ? 'started-run' : 'new-run' };
}

function isRunConfig(file: string): boolean {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { model?: unknown }).model === 'string';
  } catch {
    return false;
  }
}

/**
 * Checks `--out` before a run and, with `overwrite`, empties a started run folder (all but the lock,
 * which the caller holds). Throws a one-line error saying what to do; touches nothing when it throws.
 */
export function prepareRunFolder(dir: string, options: { resume: boolean; overwrite: boolean }): void {
  const state = inspectRunFolder(dir);
  if (state.kind === 'foreign') {
    const shown = state.unknown.slice(0, 3).join(', ') + (state.unknown.length > 3 ? ', …' : '');
    throw new Error(`--out ${dir} is not empty and is not a run folder (it holds ${shown}); choose an empty or new folder`);
  }
  if (state.kind !== 'started-run' || options.resume) return;
  if (!options.overwrite) {
    throw new Error(`--out ${dir} already holds a run; continue it with --resume, or replace it with --overwrite (deletes its checkpoints and metrics)`);
  }
  for (const entry of fs.readdirSync(dir)) {
    if (entry !== RUN_LOCK_FILE) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  }
}
