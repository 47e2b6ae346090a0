// File names that come from a Hugging Face Hub listing are chosen by whoever owns the repository.
// Before one becomes a path on this machine it must be a plain relative path: on Windows
// `data\..\..\settings.json` or `C:evil` would otherwise leave the cache folder, and `..` does
// everywhere. Both checks run: the name's shape, then the resolved path against the target folder.

import * as path from 'path';

/** Why `name` (a repo path with '/' separators) cannot be written locally, or undefined when it can. */
export function unsafeRepoPathReason(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes(':')) return 'contains a colon';
  if (name.includes('\0')) return 'contains a NUL character';
  if (name.startsWith('/') || path.isAbsolute(name) || path.win32.isAbsolute(name)) return 'is an absolute path';
  if (name.split('/').some((segment) => segment === '..')) return 'has a ".." segment';
  if (name.split('/').some((segment) => segment === '' || segment === '.')) return 'has an empty or "." segment';
  return undefined;
}

/** True when `child` is `root` or lies inside it (both resolved, no file-system access). */
export function isInsideFolder(root: string, child: string): boolean {
  const relative = path.relative(path.resolve(root), path.resolve(child));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * `root` joined with the repo path `name`, after checking both the name and the result; throws
 * `"<name>": <reason>` for a name that could escape `root`.
 */
export function resolveRepoPath(root: string, name: string): string {
  const reason = unsafeRepoPathReason(name);
  if (reason) throw new Error(`refusing the Hub file name ${JSON.stringify(name)}: it ${reason}`);
  const resolved = path.resolve(root, ...name.split('/'));
  if (!isInsideFolder(root, resolved) || path.resolve(root) === resolved) {
    throw new Error(`refusing the Hub file name ${JSON.stringify(name)}: it resolves outside ${root}`);
  }
  return resolved;
}
