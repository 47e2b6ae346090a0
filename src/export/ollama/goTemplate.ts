// A tiny interpreter for the subset of Go's text/template that our Modelfiles use, so the emitted
// TEMPLATE can be checked against the Jinja chat template without Ollama:
//   literal text, {{ .Field }}, {{ range .Messages }} ... {{ end }}, and the {{- / -}} trim markers.
// Anything else is rejected rather than rendered approximately.

export interface GoMessage {
  Role: string;
  Content: string;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'field'; name: string }
  | { kind: 'range'; name: string; body: Node[] };

interface Action {
  body: string;
  trimLeft: boolean;
  trimRight: boolean;
}

/** Splits a template into text and actions, applying the trim markers to the neighbouring text. */
function lex(template: string): (string | Action)[] {
  const out: (string | Action)[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{{', i);
    if (open < 0) {
      out.push(template.slice(i));
      break;
    }
    out.push(template.slice(i, open));
    const close = template.indexOf('}}', open + 2);
    if (close < 0) throw new Error(`unclosed action at offset ${open}`);
    let body = template.slice(open + 2, close);
    const trimLeft = /^-\s/.test(body);
    const trimRight = /\s-$/.test(body);
    if (trimLeft) body = body.slice(1);
    if (trimRight) body = body.slice(0, -1);
    out.push({ body: body.trim(), trimLeft, trimRight });
    i = close + 2;
  }
  // Go trims all whitespace (spaces, tabs, newlines) next to a trim marker.
  for (let k = 0; k < out.length; k++) {
    const item = out[k];
    if (typeof item === 'string') continue;
    if (item.trimLeft && typeof out[k - 1] === 'string') out[k - 1] = (out[k - 1] as string).replace(/\s+$/, '');
    if (item.trimRight && typeof out[k + 1] === 'string') out[k + 1] = (out[k + 1] as string).replace(/^\s+/, '');
  }
  return out;
}

function parse(items: (string | Action)[]): Node[] {
  let pos = 0;
  const block = (inRange: boolean): Node[] => {
    const nodes: Node[] = [];
    while (pos < items.length) {
      const item = items[pos++];
      if (typeof item === 'string') {
        if (item) nodes.push({ kind: 'text', text: item });
        continue;
      }
      const body = item.body;
      if (body === 'end') {
        if (!inRange) throw new Error('{{ end }} without {{ range }}');
        return nodes;
      }
      const range = /^range\s+\.([A-Za-z]+)$/.exec(body);
      if (range) {
        nodes.push({ kind: 'range', name: range[1], body: block(true) });
        continue;
      }
      const field = /^\.([A-Za-z]+)$/.exec(body);
      if (field) {
        nodes.push({ kind: 'field', name: field[1] });
        continue;
      }
      throw new Error(`unsupported template action {{ ${body} }}`);
    }
    if (inRange) throw new Error('{{ range }} without {{ end }}');
    return nodes;
  };
  return block(false);
}

type Scope = Record<string, unknown>;

function exec(nodes: Node[], dot: Scope): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'field') {
      const v = dot[n.name];
      if (typeof v !== 'string') throw new Error(`.${n.name} is not a string here`);
      out += v;
    } else {
      const list = dot[n.name];
      if (!Array.isArray(list)) throw new Error(`.${n.name} is not a list`);
      for (const item of list) out += exec(n.body, item as Scope);
    }
  }
  return out;
}

/** Renders `template` with `.Messages` (and any other top-level string fields). */
export function renderGoTemplate(template: string, data: { Messages: readonly GoMessage[] } & Record<string, unknown>): string {
  return exec(parse(lex(template)), data as Scope);
}
