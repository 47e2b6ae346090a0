// Whether two paths are the same folder or one lies inside the other, judged by what the file system
// says rather than by the spelling: `path.resolve` would let a symbolic link to the base model folder,
// or a case variant of it on a case-insensitive file system, pass as "another folder", and an export
// into it would delete the model it reads. Real paths catch links; device + inode numbers catch case
// variants and hard-linked folders (bind mounts too).

import * as fs from 'fs';
import * as path from 'path';

interface FileId {
  dev: number;
  ino: number;
}

function fileId(p: string): FileId | undefined {
  try {
    const s = fs.statSync(p);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

function sameId(a: FileId | undefined, b: FileId | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** The real path of `p`; for a path that does not exist yet, its nearest existing ancestor's real path joined with the rest. */
export function realPathOf(p: string): string {
  let existing = path.resolve(p);
  const rest: string[] = [];
  while (!fs.existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) break;
    rest.unshift(path.basename(existing));
    existing = parent;
  }
  let real: string;
  try {
    real = fs.realpathSync.native(existing);
  } catch {
    real = existing;
  }
  return path.join(real, ...rest);
}

/** True when `a` and `b` name the same existing file or folder (device + inode). */
export function isSameFile(a: string, b: string): boolean {
  return sameId(fileId(a), fileId(b));
}

/** True when `inner` is `outer` or lies inside it (`inner` need not exist yet). */
export function isSameOrInside(outer: string, inner: string): boolean {
  const outerReal = realPathOf(outer);
  const innerReal = realPathOf(inner);
  const relative = path.relative(outerReal, innerReal);
  if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))) return true;
  // Spelled differently: compare `outer` with every existing ancestor of `inner` by device + inode.
  const outerId = fileId(outerReal);
  if (!outerId) return false;
  for (let dir = innerReal; ; dir = path.dirname(dir)) {
    if (sameId(fileId(dir), outerId)) return true;
    if (path.dirname(dir) === dir) return false;
  }
}
