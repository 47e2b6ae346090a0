// YAML for the configs we generate (accelerate, Axolotl): block mappings and sequences whose
// scalars are JSON literals, which YAML reads as the same values. Floats always carry a "." and a
// signed exponent (1.0e-08, not 1e-8) because PyYAML's YAML 1.1 resolver reads 1e-8 as a string.
// parseYaml reads back exactly this subset, so tests can check what we wrote.

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function yamlNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`YAML: cannot write ${x}`);
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const s = String(x);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]?)(\d+)$/.exec(s);
  if (!m) return s.includes('.') ? s : `${s}.0`;
  return `${m[1]}${m[2]}.${m[3] ?? '0'}e${m[4] || '+'}${m[5].padStart(2, '0')}`;
}

function scalar(v: YamlValue): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return yamlNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v) && v.length === 0) return '[]';
  if (!Array.isArray(v) && Object.keys(v).length === 0) return '{}';
  return undefined;
}

function key(k: string): string {
  return PLAIN_KEY.test(k) ? k : JSON.stringify(k);
}

function emit(v: YamlValue, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    const lines: string[] = [];
    for (const item of v) {
      const s = scalar(item);
      if (s !== undefined) lines.push(`${pad}- ${s}`);
      else {
        // A nested block: its first line goes on the dash line, the rest stay aligned under it.
        const inner = emit(item, indent + 2);
        lines.push(`${pad}- ${inner[0].slice(indent + 2)}`, ...inner.slice(1));
      }
    }
    return lines;
  }
  if (v !== null && typeof v === 'object') {
    const lines: string[] = [];
    for (const [k, child] of Object.entries(v)) {
      const s = scalar(child);
      if (s !== undefined) lines.push(`${pad}${key(k)}: ${s}`);
      else lines.push(`${pad}${key(k)}:`, ...emit(child, indent + 2));
    }
    return lines;
  }
  throw new Error('YAML: the document must be a mapping or a sequence');
}

/** Writes `value` as YAML, with `comments` as leading # lines. */
export function toYaml(value: { [key: string]: YamlValue }, comments: readonly string[] = []): string {
  return [...comments.map((c) => (c ? `# ${c}` : '#')), ...emit(value, 0)].join('\n') + '\n';
}

// ---------------------------------------------------------------- reading

interface Line {
  indent: number;
  text: string;
  no: number;
}

function parseScalar(text: string, no: number): YamlValue {
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      throw new Error(`YAML line ${no}: bad quoted string ${text}`);
    }
  }
  if (text === 'null' || text === '~') return null;
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === '[]') return [];
  if (text === '{}') return {};
  if (/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  return text;
}

/** Splits `key: rest` (key plain or JSON-quoted). */
function splitKey(text: string): [string, string] | undefined {
  if (text.startsWith('"')) {
    const m = /^("(?:[^"\\]|\\.)*")\s*:(?:\s+(.*))?$/.exec(text);
    if (!m) return undefined;
    return [JSON.parse(m[1]) as string, m[2] ?? ''];
  }
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)\s*:(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  return [m[1], m[2] ?? ''];
}

export function parseYaml(source: string): YamlValue {
  const lines: Line[] = [];
  source.split('\n').forEach((raw, i) => {
    if (raw.includes('\t')) throw new Error(`YAML line ${i + 1}: tabs are not allowed`);
    const text = raw.trim();
    if (text === '' || text.startsWith('#')) return;
    lines.push({ indent: raw.length - raw.trimStart().length, text, no: i + 1 });
  });
  let pos = 0;

  const block = (indent: number): YamlValue => {
    const first = lines[pos];
    if (first.text.startsWith('- ') || first.text === '-') {
      const list: YamlValue[] = [];
      while (pos < lines.length && lines[pos].indent === indent && (lines[pos].text.startsWith('- ') || lines[pos].text === '-')) {
        const line = lines[pos];
        const rest = line.text.slice(2).trim();
        if (rest === '') {
          pos++;
          list.push(block(lines[pos].indent));
        } else if (splitKey(rest) || rest.startsWith('- ') || rest === '-') {
          // "- key: value" / "- - x": a mapping or sequence whose first entry shares the dash line.
          lines[pos] = { indent: indent + 2, text: rest, no: line.no };
          list.push(block(indent + 2));
        } else {
          list.push(parseScalar(rest, line.no));
          pos++;
        }
      }
      return list;
    }
    const map: { [key: string]: YamlValue } = {};
    while (pos < lines.length && lines[pos].indent === indent) {
      const line = lines[pos];
      const kv = splitKey(line.text);
      if (!kv) throw new Error(`YAML line ${line.no}: expected "key: value", got ${line.text}`);
      const [k, rest] = kv;
      if (k in map) throw new Error(`YAML line ${line.no}: duplicate key ${k}`);
      pos++;
      if (rest !== '') map[k] = parseScalar(rest, line.no);
      else if (pos < lines.length && lines[pos].indent > indent) map[k] = block(lines[pos].indent);
      else map[k] = null;
    }
    if (pos < lines.length && lines[pos].indent > indent) throw new Error(`YAML line ${lines[pos].no}: unexpected indentation`);
    return map;
  };

  if (lines.length === 0) return null;
  const doc = block(lines[0].indent);
  if (pos < lines.length) throw new Error(`YAML line ${lines[pos].no}: unexpected content`);
  return doc;
}
