// A tiny interpreter for the subset of Go's text/template that our Modelfiles use, so the emitted
// TEMPLATE can be checked against the Jinja chat template without Ollama:
//   literal text, {{ .Field }}, {{ range .Messages }} ... {{ end }}, the {{- / -}} trim markers, and
//   for Gemma's template: {{ if eq .Field "text" }} / {{ else if … }} / {{ else }}, {{ if not $v }},
//   and boolean variables ({{ $v := false }}, {{ $v = true }}; one scope, as Go's range shares it).
// Anything else is rejected rather than rendered approximately.

export interface GoMessage {
  Role: string;
  Content: string;
}

type Cond = { kind: 'eq'; field: string; value: string } | { kind: 'not'; name: string } | { kind: 'var'; name: string };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'field'; name: string }
  | { kind: 'range'; name: string; body: Node[] }
  | { kind: 'if'; cond: Cond; then: Node[]; else: Node[] }
  | { kind: 'set'; name: string; value: boolean };

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

function condition(text: string): Cond | undefined {
  const eq = /^eq\s+\.([A-Za-z]+)\s+"([^"\\]*)"$/.exec(text);
  if (eq) return { kind: 'eq', field: eq[1], value: eq[2] };
  const not = /^not\s+\$([A-Za-z]\w*)$/.exec(text);
  if (not) return { kind: 'not', name: not[1] };
  const v = /^\$([A-Za-z]\w*)$/.exec(text);
  if (v) return { kind: 'var', name: v[1] };
  return undefined;
}

function parse(items: (string | Action)[]): Node[] {
  let pos = 0;
  /** Nodes up to the {{ end }} / {{ else … }} that closes the block (returned as `closer`), or the end of input. */
  const block = (): { nodes: Node[]; closer?: string } => {
    const nodes: Node[] = [];
    while (pos < items.length) {
      const item = items[pos++];
      if (typeof item === 'string') {
        if (item) nodes.push({ kind: 'text', text: item });
        continue;
      }
      const body = item.body;
      if (body === 'end' || body === 'else' || body.startsWith('else if ')) return { nodes, closer: body };
      const range = /^range\s+\.([A-Za-z]+)$/.exec(body);
      if (range) {
        const inner = block();
        if (inner.closer !== 'end') throw new Error(inner.closer === undefined ? '{{ range }} without {{ end }}' : `{{ ${inner.closer} }} inside {{ range }}`);
        nodes.push({ kind: 'range', name: range[1], body: inner.nodes });
        continue;
      }
      const ifMatch = /^if\s+(.+)$/.exec(body);
      if (ifMatch) {
        nodes.push(ifNode(ifMatch[1]));
        continue;
      }
      const set = /^\$([A-Za-z]\w*)\s*:?=\s*(true|false)$/.exec(body);
      if (set) {
        nodes.push({ kind: 'set', name: set[1], value: set[2] === 'true' });
        continue;
      }
      const field = /^\.([A-Za-z]+)$/.exec(body);
      if (field) {
        nodes.push({ kind: 'field', name: field[1] });
        continue;
      }
      throw new Error(`unsupported template action {{ ${body} }}`);
    }
    return { nodes };
  };
  const ifNode = (condText: string): Node => {
    const cond = condition(condText.trim());
    if (!cond) throw new Error(`unsupported template action {{ if ${condText} }}`);
    const then = block();
    if (then.closer === 'end') return { kind: 'if', cond, then: then.nodes, else: [] };
    if (then.closer === 'else') {
      const otherwise = block();
      if (otherwise.closer !== 'end') throw new Error('{{ if }} … {{ else }} without {{ end }}');
      return { kind: 'if', cond, then: then.nodes, else: otherwise.nodes };
    }
    if (then.closer?.startsWith('else if ')) return { kind: 'if', cond, then: then.nodes, else: [ifNode(then.closer.slice('else if '.length))] };
    throw new Error('{{ if }} without {{ end }}');
  };
  const top = block();
  if (top.closer === 'end') throw new Error('{{ end }} without {{ range }} or {{ if }}');
  if (top.closer !== undefined) throw new Error(`{{ ${top.closer} }} without {{ if }}`);
  return top.nodes;
}

type Scope = Record<string, unknown>;

function test(cond: Cond, dot: Scope, vars: Map<string, boolean>): boolean {
  if (cond.kind === 'eq') return dot[cond.field] === cond.value;
  const v = vars.get(cond.name);
  if (v === undefined) throw new Error(`undefined variable $${cond.name}`);
  return cond.kind === 'not' ? !v : v;
}

function exec(nodes: Node[], dot: Scope, vars: Map<string, boolean>): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'field') {
      const v = dot[n.name];
      if (typeof v !== 'string') throw new Error(`.${n.name} is not a string here`);
      out += v;
    } else if (n.kind === 'set') vars.set(n.name, n.value);
    else if (n.kind === 'if') out += exec(test(n.cond, dot, vars) ? n.then : n.else, dot, vars);
    else {
      const list = dot[n.name];
      if (!Array.isArray(list)) throw new Error(`.${n.name} is not a list`);
      for (const item of list) out += exec(n.body, item as Scope, vars);
    }
  }
  return out;
}

/** Renders `template` with `.Messages` (and any other top-level string fields). */
export function renderGoTemplate(template: string, data: { Messages: readonly GoMessage[] } & Record<string, unknown>): string {
  return exec(parse(lex(template)), data as Scope, new Map());
}
