// Globs in the gitignore dialect (also used for --glob include patterns), matched in linear time:
//   *  any run of characters except '/'      ?  one character except '/'
//   [abc] [a-z] [!a-z] [^a-z]  a character class (never matches '/')
//   leading "**/" any leading directories    "/**/" zero or more directories
//   trailing "/**" everything inside           other "**" behaves like '*'
//   \x  the character x literally
//
// Why not a RegExp (or picomatch / minimatch, which compile to one): V8's regular expressions
// backtrack, so a pattern from a workspace's .gitignore such as `*a*a*a*a*a*a*a*a*b` takes seconds
// against a 40-character name and minutes against 60 (measured with both libraries, 2026-12). A glob
// is a tiny automaton instead: the matcher below runs it as an NFA, keeping the set of states the
// input can be in, so a match costs O(name length × pattern length) whatever the pattern.

/** One step of a compiled glob. */
type Step =
  | { kind: 'char'; ch: string }
  /** one character that is not '/' and, for a class, is (or, negated, is not) in it */
  | { kind: 'one'; test: (ch: string) => boolean }
  /** zero or more characters other than '/' (`*`) */
  | { kind: 'star' }
  /** zero or more characters, '/' included (a trailing `/**`) */
  | { kind: 'any' }
  /** zero or more whole directories: '' or anything ending in '/' (a leading `**\/`, an inner `/**\/`) */
  | { kind: 'dirs' };

export interface PathGlob {
  readonly pattern: string;
  /** Whether the whole slash-separated path matches. */
  test(path: string): boolean;
}

function classTest(body: string, negated: boolean): (ch: string) => boolean {
  const singles = new Set<string>();
  const ranges: [string, string][] = [];
  const chars = [...body];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i + 1] === '-' && i + 2 < chars.length) {
      ranges.push([chars[i], chars[i + 2]]);
      i += 2;
    } else {
      singles.add(chars[i]);
    }
  }
  return (ch) => {
    if (ch === '/') return false;
    const inside = singles.has(ch) || ranges.some(([lo, hi]) => ch >= lo && ch <= hi);
    return inside !== negated;
  };
}

/** Parses a slash-separated glob (no leading '/') into steps. */
function parseGlob(glob: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  while (i < glob.length) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0;
        const beforeIsSlash = i > 0 && glob[i - 1] === '/';
        const after = glob[i + 2];
        if ((atStart || beforeIsSlash) && after === '/') {
          steps.push({ kind: 'dirs' });
          i += 3;
          continue;
        }
        if (beforeIsSlash && after === undefined) {
          steps.push({ kind: 'any' });
          i += 2;
          continue;
        }
        // Not a path-level "**": consecutive asterisks are a plain '*'.
        while (glob[i] === '*') i++;
        steps.push({ kind: 'star' });
        continue;
      }
      steps.push({ kind: 'star' });
      i++;
    } else if (ch === '?') {
      steps.push({ kind: 'one', test: (c) => c !== '/' });
      i++;
    } else if (ch === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        steps.push({ kind: 'char', ch: '[' });
        i++;
        continue;
      }
      let body = glob.slice(i + 1, close);
      let negated = false;
      if (body[0] === '!' || body[0] === '^') {
        negated = true;
        body = body.slice(1);
      }
      steps.push({ kind: 'one', test: classTest(body, negated) });
      i = close + 1;
    } else if (ch === '\\' && i + 1 < glob.length) {
      steps.push({ kind: 'char', ch: glob[i + 1] });
      i += 2;
    } else {
      steps.push({ kind: 'char', ch });
      i++;
    }
  }
  // "**" then "*" (or two stars in a row) match nothing more than one of them: fewer states.
  return steps.filter((s, k) => !(s.kind === 'star' && (steps[k - 1]?.kind === 'star' || steps[k - 1]?.kind === 'any')));
}

/**
 * Runs the steps as an NFA. State 2k means "before step k"; state 2k+1 means "inside a directory name
 * of the `dirs` step k". Step counts are small, so plain arrays of flags are the state sets.
 */
function matchSteps(steps: readonly Step[], input: string): boolean {
  const n = steps.length;
  const size = 2 * n + 2;
  let current = new Uint8Array(size);
  let next = new Uint8Array(size);
  const close = (set: Uint8Array): void => {
    // zero-width moves: a star, `any` or `dirs` may match nothing and hand over to the next step
    for (let k = 0; k < n; k++) {
      const kind = steps[k].kind;
      if (set[2 * k] && (kind === 'star' || kind === 'any' || kind === 'dirs')) set[2 * (k + 1)] = 1;
    }
  };
  current[0] = 1;
  close(current);
  for (const ch of input) {
    next.fill(0);
    let alive = false;
    for (let k = 0; k < n; k++) {
      const step = steps[k];
      const before = current[2 * k] === 1;
      const inside = current[2 * k + 1] === 1;
      if (!before && !inside) continue;
      switch (step.kind) {
        case 'char':
          if (before && ch === step.ch) next[2 * (k + 1)] = 1;
          break;
        case 'one':
          if (before && step.test(ch)) next[2 * (k + 1)] = 1;
          break;
        case 'star':
          if (before && ch !== '/') next[2 * k] = 1;
          break;
        case 'any':
          if (before) next[2 * k] = 1;
          break;
        case 'dirs':
          // a '/' ends a (possibly empty) directory name: back before the step, which may now hand over
          if (ch === '/') next[2 * k] = 1;
          else next[2 * k + 1] = 1;
          break;
      }
    }
    close(next);
    for (let s = 0; s < size; s++) if (next[s]) alive = true;
    if (!alive) return false;
    [current, next] = [next, current];
  }
  return current[2 * n] === 1;
}

/**
 * Compiles a path glob: a pattern with a '/' (other than a trailing one) is anchored at the
 * root it is relative to; one without matches the name at any depth, as in .gitignore.
 */
export function compilePathGlob(pattern: string): PathGlob {
  // A trailing '/' only says "directory" (the caller handles that); it does not anchor.
  let p = pattern.replace(/\/+$/, '');
  const anchored = p.includes('/');
  p = p.replace(/^\//, '');
  const parsed = parseGlob(p);
  const steps: Step[] = anchored ? parsed : [{ kind: 'dirs' }, ...parsed];
  return { pattern, test: (path) => matchSteps(steps, path) };
}
