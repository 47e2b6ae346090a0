// A .gitignore matcher for the patterns people actually write: comments, blank lines,
// negation (!), directory-only rules (trailing /), anchored rules (leading or inner /),
// unanchored names that match at any depth, *, ?, [..] and **. Rules from a .gitignore apply
// to paths below its directory; later rules win; and, as in git, nothing below an ignored
// directory can be re-included.

import { compilePathGlob, type PathGlob } from './glob';

export interface GitignoreRule {
  /** Directory of the .gitignore that holds the rule, relative to the walk root ('' = root). */
  base: string;
  pattern: string;
  /** matched in linear time (see glob.ts): a hostile pattern cannot stall the walk. */
  glob: PathGlob;
  negate: boolean;
  dirOnly: boolean;
}

/** Parses .gitignore text into rules for paths under `base` (slash-separated, '' for the root). */
export function parseGitignore(text: string, base = ''): GitignoreRule[] {
  const rules: GitignoreRule[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    // Trailing spaces are ignored unless escaped with a backslash.
    let line = rawLine.replace(/(?<!\\)\s+$/, '');
    if (line.length === 0 || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) {
      line = line.slice(1);
    }
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.replace(/\/+$/, '');
    if (line.length === 0) continue;
    rules.push({ base, pattern: rawLine.trim(), glob: compilePathGlob(line), negate, dirOnly });
  }
  return rules;
}

function relativeTo(base: string, path: string): string | undefined {
  if (base === '') return path;
  return path.startsWith(`${base}/`) ? path.slice(base.length + 1) : undefined;
}

/** Immutable rule set; `withRules` gives a child set for a subdirectory's own .gitignore. */
export class GitignoreMatcher {
  constructor(readonly rules: readonly GitignoreRule[] = []) {}

  withRules(more: readonly GitignoreRule[]): GitignoreMatcher {
    return more.length === 0 ? this : new GitignoreMatcher([...this.rules, ...more]);
  }

  /** The verdict of the rules on this one path, ignoring its ancestors. */
  private matchesOwn(path: string, isDir: boolean): boolean {
    let ignored = false;
    for (const rule of this.rules) {
      if (rule.dirOnly && !isDir) continue;
      const rel = relativeTo(rule.base, path);
      if (rel === undefined || rel === '') continue;
      if (rule.glob.test(rel)) ignored = !rule.negate;
    }
    return ignored;
  }

  /** Whether `path` (slash-separated, relative to the walk root) is ignored. */
  ignores(path: string, isDir: boolean): boolean {
    const parts = path.split('/').filter((p) => p.length > 0);
    for (let i = 1; i < parts.length; i++) {
      if (this.matchesOwn(parts.slice(0, i).join('/'), true)) return true;
    }
    return this.matchesOwn(parts.join('/'), isDir);
  }
}
