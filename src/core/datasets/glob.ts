// Glob → RegExp for the gitignore dialect (also used for --glob include patterns):
//   *  any run of characters except '/'      ?  one character except '/'
//   [abc] [a-z] [!a-z] [^a-z]  a character class (never matches '/')
//   leading "**/" any leading directories    "/**/" zero or more directories
//   trailing "/**" everything inside           other "**" behaves like '*'
//   \x  the character x literally

function escapeRegex(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** Translates a slash-separated glob (no leading '/') into regex source (no ^/$ anchors). */
export function globToRegexSource(glob: string): string {
  let out = '';
  let i = 0;
  while (i < glob.length) {
    const ch = glob[i];
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0;
        const beforeIsSlash = i > 0 && glob[i - 1] === '/';
        const after = glob[i + 2];
        if ((atStart || beforeIsSlash) && after === '/') {
          out += '(?:.*/)?';
          i += 3;
          continue;
        }
        if (beforeIsSlash && after === undefined) {
          out += '.*';
          i += 2;
          continue;
        }
        // Not a path-level "**": consecutive asterisks are a plain '*'.
        while (glob[i] === '*') i++;
        out += '[^/]*';
        continue;
      }
      out += '[^/]*';
      i++;
    } else if (ch === '?') {
      out += '[^/]';
      i++;
    } else if (ch === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
        i++;
        continue;
      }
      let body = glob.slice(i + 1, close);
      let negated = false;
      if (body[0] === '!' || body[0] === '^') {
        negated = true;
        body = body.slice(1);
      }
      const cls = body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]').replace(/\[/g, '\\[');
      out += negated ? `[^/${cls}]` : `(?!/)[${cls}]`;
      i = close + 1;
    } else if (ch === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[i + 1]);
      i += 2;
    } else {
      out += escapeRegex(ch);
      i++;
    }
  }
  return out;
}

/**
 * Compiles a path glob: a pattern with a '/' (other than a trailing one) is anchored at the
 * root it is relative to; one without matches the name at any depth, as in .gitignore.
 */
export function compilePathGlob(pattern: string): RegExp {
  // A trailing '/' only says "directory" (the caller handles that); it does not anchor.
  let p = pattern.replace(/\/+$/, '');
  const anchored = p.includes('/');
  p = p.replace(/^\//, '');
  const source = globToRegexSource(p);
  return new RegExp(anchored ? `^${source}$` : `^(?:.*/)?${source}$`);
}
