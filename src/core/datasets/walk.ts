// Walks folders the way `git ls-files --others --cached` would see them: every .gitignore on
// the way is honoured, `.git` is never entered, and `node_modules` is skipped too because a
// workspace without a .gitignore would otherwise drown the dataset in dependencies.
// Entries come out sorted so the same folders always give the same dataset.

import * as fs from 'fs';
import * as path from 'path';
import { compilePathGlob } from './glob';
import { GitignoreMatcher, parseGitignore } from './gitignore';

const ALWAYS_SKIPPED_DIRS = new Set(['.git', 'node_modules']);
/** git's own control files are configuration, not content to learn from. */
const SKIPPED_FILES = new Set(['.gitignore', '.gitattributes', '.gitmodules']);

export interface WalkedFile {
  root: string;
  /** Slash-separated path relative to `root`. */
  relPath: string;
  absPath: string;
}

export interface WalkOptions {
  /** Include only files whose relative path matches one of these globs (gitignore glob syntax). */
  globs?: readonly string[];
}

function readGitignore(dir: string, base: string): ReturnType<typeof parseGitignore> {
  try {
    return parseGitignore(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'), base);
  } catch {
    return [];
  }
}

export function walkFiles(roots: readonly string[], options: WalkOptions = {}): WalkedFile[] {
  const includes = (options.globs ?? []).filter((g) => g.length > 0).map(compilePathGlob);
  const out: WalkedFile[] = [];
  for (const rootArg of roots) {
    const root = path.resolve(rootArg);
    if (!fs.statSync(root).isDirectory()) throw new Error(`${rootArg} is not a directory`);
    const visit = (dir: string, rel: string, matcher: GitignoreMatcher): void => {
      const here = matcher.withRules(readGitignore(dir, rel));
      const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const entry of entries) {
        const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
        const abs = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (ALWAYS_SKIPPED_DIRS.has(entry.name) || here.ignores(childRel, true)) continue;
          visit(abs, childRel, here);
        } else if (entry.isFile()) {
          if (SKIPPED_FILES.has(entry.name) || here.ignores(childRel, false)) continue;
          if (includes.length > 0 && !includes.some((re) => re.test(childRel))) continue;
          out.push({ root, relPath: childRel, absPath: abs });
        }
        // Symlinks are not followed: they can loop and can point outside the workspace.
      }
    };
    visit(root, '', new GitignoreMatcher());
  }
  return out;
}
