// How deeply a JSON text nests its arrays and objects, measured on the text before anything walks
// the parsed value. JSON.parse itself copes with any depth, but every recursive step after it
// (JSON.stringify, de-duplication, field mapping, chat-template rendering) overflows the stack on
// a line such as `{"a":[[[[...]]]]}` 100 000 levels deep and dies with "Maximum call stack size
// exceeded" and no line number. Real datasets nest a handful of levels; MAX_JSON_DEPTH is generous.

export const MAX_JSON_DEPTH = 1000;

/**
 * True when `text` (one JSON document) nests deeper than `limit`. A text shorter than `limit`
 * characters cannot, so ordinary lines cost one length comparison; longer ones one pass over the
 * characters, skipping string contents (brackets inside strings do not nest).
 */
export function jsonNestsDeeperThan(text: string, limit = MAX_JSON_DEPTH): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

export const NESTING_TOO_DEEP = `nesting too deep (more than ${MAX_JSON_DEPTH} levels of arrays/objects)`;
