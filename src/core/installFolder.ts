// Replacing a folder (the run's final adapter/ or model/) so that a failure or a kill at any moment
// leaves either the old folder or the new one complete under its name. The new content is written
// under `<dest>.tmp-<pid>` beside it; the old folder is moved aside, the new one renamed in, the old
// one removed. (A directory cannot be renamed over a non-empty one, hence the move aside.)

import * as fs from 'fs';
import * as path from 'path';

export function installFolder(dest: string, write: (tmp: string) => void): void {
  const tmp = `${dest}.tmp-${process.pid}`;
  const old = `${dest}.old.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    write(tmp);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  fs.rmSync(old, { recursive: true, force: true });
  const hadOld = fs.existsSync(dest);
  if (hadOld) fs.renameSync(dest, old);
  fs.renameSync(tmp, dest);
  if (hadOld) fs.rmSync(old, { recursive: true, force: true });
}

/**
 * Leftovers of installFolder killed half-way, in a run folder whose lock the caller holds: a new
 * folder not yet renamed in is removed; an old one moved aside is put back if nothing replaced it.
 */
export function cleanPartialFolders(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    const m = /^(.+?)(\.old)?\.tmp-\d+$/.exec(name);
    if (!m || !fs.statSync(path.join(dir, name)).isDirectory()) continue;
    const dest = path.join(dir, m[1]);
    if (m[2] && !fs.existsSync(dest)) fs.renameSync(path.join(dir, name), dest);
    else fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}
