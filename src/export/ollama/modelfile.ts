// An Ollama Modelfile for an exported GGUF whose TEMPLATE (a Go template) reproduces the chat
// template the model was trained with. Recognised: ChatML (<|im_start|>role ... <|im_end|>: Qwen,
// SmolLM, our fixtures), Llama 3 (<|start_header_id|>role<|end_header_id|> ... <|eot_id|>), Phi-3
// (<|user|>\n ... <|end|>\n), Phi-4-mini (<|user|> ... <|end|>, no newlines) and Gemma 3
// (<start_of_turn>user ... <end_of_turn>, the assistant's turns named model, a system message
// prepended to the first user turn). A candidate is accepted only when it renders sample conversations to exactly the text
// the Jinja template renders (after the tokenizer's automatic BOS); otherwise the Modelfile carries no
// TEMPLATE, says why, and quotes the Jinja template for reference.
import type { ChatMessage } from '../../core/protocol';
import { renderGoTemplate } from './goTemplate';

export type ChatStyle = 'chatml' | 'llama3' | 'phi3' | 'phi4' | 'gemma';

interface StyleSpec {
  style: ChatStyle;
  label: string;
  header(role: string): string;
  footer: string;
  /** Go template over .Messages; the generation prompt for the assistant follows the loop. */
  template: string;
  stops: string[];
  note?: string;
}

const STYLES: StyleSpec[] = [
  {
    style: 'chatml',
    label: 'ChatML',
    header: (role) => `<|im_start|>${role}\n`,
    footer: '<|im_end|>\n',
    template: '{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n',
    stops: ['<|im_end|>'],
  },
  {
    style: 'llama3',
    label: 'Llama 3',
    header: (role) => `<|start_header_id|>${role}<|end_header_id|>\n\n`,
    footer: '<|eot_id|>',
    template: '{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n',
    stops: ['<|eot_id|>'],
    note: 'the Jinja template trims message content; Ollama passes it unchanged',
  },
  {
    style: 'phi3',
    label: 'Phi-3',
    header: (role) => `<|${role}|>\n`,
    footer: '<|end|>\n',
    template: '{{ range .Messages }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n',
    stops: ['<|end|>'],
  },
  {
    style: 'phi4',
    label: 'Phi-4-mini',
    header: (role) => `<|${role}|>`,
    footer: '<|end|>',
    template: '{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}<|end|>{{ end }}<|assistant|>',
    stops: ['<|end|>'],
  },
  {
    style: 'gemma',
    label: 'Gemma',
    header: (role) => `<start_of_turn>${role === 'assistant' ? 'model' : role}\n`,
    footer: '<end_of_turn>\n',
    // $open: a system message opened the first user turn, whose header is then already written.
    template: '{{ $open := false }}{{ range .Messages }}{{ if eq .Role "system" }}<start_of_turn>user\n{{ .Content }}\n\n{{ $open = true }}'
      + '{{ else if eq .Role "user" }}{{ if not $open }}<start_of_turn>user\n{{ end }}{{ .Content }}<end_of_turn>\n{{ $open = false }}'
      + '{{ else }}<start_of_turn>model\n{{ .Content }}<end_of_turn>\n{{ end }}{{ end }}<start_of_turn>model\n',
    stops: ['<end_of_turn>'],
    note: 'the Jinja template trims message content; Ollama passes it unchanged',
  },
];

/** Conversations every accepted template must render identically (all end on a user turn: Ollama always prompts the assistant). */
export const CHECK_CONVERSATIONS: readonly (readonly ChatMessage[])[] = [
  [{ role: 'user', content: 'Hi there' }],
  [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is 2+2?' }],
  [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'Blue.' }, { role: 'user', content: 'Another one?' }],
  [
    { role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'line one\nline two' },
    { role: 'assistant', content: 'Oui.' }, { role: 'user', content: 'Merci' },
  ],
];

export interface ModelfileInput {
  /** the GGUF file name, relative to the Modelfile. */
  ggufFile: string;
  /** the training chat template (Jinja); undefined when the model has none. */
  chatTemplate: string | undefined;
  /** renders a conversation with the training template, as training did. */
  render?: (messages: readonly ChatMessage[], addGenerationPrompt: boolean) => string;
  /** the tokenizer's BOS text and whether llama.cpp prepends it (tokenizer.ggml.add_bos_token). */
  bosText?: string;
  addBos: boolean;
  /** texts of end-of-sequence tokens (eos, generation_config's eos ids): extra stop strings. */
  eosTexts: readonly string[];
  /** generation_config.json, for sampling defaults. */
  generationConfig?: Record<string, unknown>;
}

export interface ModelfileResult {
  text: string;
  style?: ChatStyle;
  defaultSystem?: string;
  /** why no TEMPLATE was written. */
  reason?: string;
}

export interface ParsedModelfile {
  from?: string;
  template?: string;
  system?: string;
  parameters: [string, string][];
}

/** Parses the Modelfile subset we write: FROM, TEMPLATE/SYSTEM with """...""", PARAMETER, # comments. */
export function parseModelfile(text: string): ParsedModelfile {
  const out: ParsedModelfile = { parameters: [] };
  let i = 0;
  const lines = text.split('\n');
  while (i < lines.length) {
    const line = lines[i];
    i++;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Modelfile: cannot read line ${i}: ${line}`);
    const command = m[1].toUpperCase();
    let value = m[2];
    if (value.startsWith('"""')) {
      // Multi-line value up to the closing """.
      let body = value.slice(3);
      while (!body.includes('"""')) {
        if (i >= lines.length) throw new Error('Modelfile: unterminated """');
        body += '\n' + lines[i++];
      }
      value = body.slice(0, body.indexOf('"""'));
    }
    if (command === 'FROM') out.from = value;
    else if (command === 'TEMPLATE') out.template = value;
    else if (command === 'SYSTEM') out.system = value;
    else if (command === 'PARAMETER') {
      const p = /^(\S+)\s+(.*)$/.exec(value);
      if (!p) throw new Error(`Modelfile: bad PARAMETER line ${i}`);
      out.parameters.push([p[1], p[2].startsWith('"') ? (JSON.parse(p[2]) as string) : p[2]]);
    } else throw new Error(`Modelfile: unsupported command ${command}`);
  }
  return out;
}

/**
 * The prompt Ollama's chat endpoint renders: the Modelfile's SYSTEM becomes the first message when
 * the conversation has no system message of its own, then TEMPLATE runs over .Messages.
 */
export function ollamaPrompt(modelfile: Pick<ParsedModelfile, 'template' | 'system'>, messages: readonly ChatMessage[]): string {
  if (modelfile.template === undefined) throw new Error('the Modelfile has no TEMPLATE');
  const msgs = [...messages];
  if (modelfile.system !== undefined && msgs[0]?.role !== 'system') msgs.unshift({ role: 'system', content: modelfile.system });
  return renderGoTemplate(modelfile.template, { Messages: msgs.map((m) => ({ Role: m.role, Content: m.content })) });
}

interface Fit {
  spec: StyleSpec;
  template: string;
  system?: string;
}

/** Tries one style against the Jinja template; returns the fitted template or why it does not fit. */
function fitStyle(spec: StyleSpec, input: ModelfileInput, render: NonNullable<ModelfileInput['render']>): Fit | string {
  const autoBos = input.addBos && input.bosText ? input.bosText : '';
  const probe = render([{ role: 'user', content: 'Hi there' }], true);
  if (!probe.startsWith(autoBos)) return `the template does not start with ${autoBos}, which llama.cpp adds to every prompt`;
  const rest = probe.slice(autoBos.length);
  // Constant text before the first turn (e.g. a BOS the tokenizer does not add by itself).
  const firstTurn = [spec.header('system'), spec.header('user')].map((h) => rest.indexOf(h)).filter((k) => k >= 0);
  if (firstTurn.length === 0) return `no ${spec.label} turn markers`;
  const lead = rest.slice(0, Math.min(...firstTurn));
  if (lead.includes('{{')) return 'the template starts with text a Go template cannot hold';
  let system: string | undefined;
  const afterLead = rest.slice(lead.length);
  if (afterLead.startsWith(spec.header('system'))) {
    // A system turn the user did not write: the template's default system prompt.
    const body = afterLead.slice(spec.header('system').length);
    const end = body.indexOf(spec.footer);
    if (end < 0) return 'cannot find the end of the default system turn';
    system = body.slice(0, end);
  }
  const fit: Fit = { spec, template: lead + spec.template, system };
  for (const conversation of CHECK_CONVERSATIONS) {
    const want = render(conversation, true);
    const got = autoBos + ollamaPrompt({ template: fit.template, system }, conversation);
    if (got !== want) return `renders differently from the training template, e.g. ${JSON.stringify(got.slice(0, 200))} vs ${JSON.stringify(want.slice(0, 200))}`;
  }
  return fit;
}

function samplingParameters(gen: Record<string, unknown> | undefined): [string, string][] {
  if (!gen) return [];
  const params: [string, string][] = [];
  const num = (k: string): number | undefined => (typeof gen[k] === 'number' ? (gen[k] as number) : undefined);
  if (gen.do_sample === false) params.push(['temperature', '0']); // greedy, as transformers would decode
  else if (num('temperature') !== undefined) params.push(['temperature', String(num('temperature'))]);
  if (gen.do_sample !== false) {
    if (num('top_p') !== undefined) params.push(['top_p', String(num('top_p'))]);
    if (num('top_k') !== undefined) params.push(['top_k', String(num('top_k'))]);
  }
  if (num('repetition_penalty') !== undefined) params.push(['repeat_penalty', String(num('repetition_penalty'))]);
  return params;
}

function quoteTriple(value: string, what: string): string {
  if (value.includes('"""')) throw new Error(`the ${what} contains """, which a Modelfile cannot quote`);
  return `"""${value}"""`;
}

export function buildModelfile(input: ModelfileInput): ModelfileResult {
  const lines = [
    '# Ollama Modelfile written by Finetune Studio (ftune export --to gguf).',
    '#   ollama create my-model -f Modelfile',
    '#   ollama run my-model',
    `FROM ./${input.ggufFile}`,
    '',
  ];
  let fit: Fit | undefined;
  const reasons: string[] = [];
  if (!input.chatTemplate || !input.render) reasons.push('the model has no chat template');
  else {
    for (const spec of STYLES) {
      let r: Fit | string;
      try {
        r = fitStyle(spec, input, input.render);
      } catch (err) {
        // e.g. templates that raise_exception on a system message or on role order
        r = `the template failed to render a sample conversation (${(err as Error).message.split('\n')[0]})`;
      }
      if (typeof r === 'string') reasons.push(`${spec.label}: ${r}`);
      else {
        fit = r;
        break;
      }
    }
  }
  const stops: string[] = [];
  if (fit) {
    lines.push(`# The chat format the model was trained with (${fit.spec.label}), as a Go template.`);
    if (fit.spec.note) lines.push(`# Note: ${fit.spec.note}.`);
    lines.push(`TEMPLATE ${quoteTriple(fit.template, 'template')}`, '');
    if (fit.system !== undefined) {
      lines.push('# The training template\'s default system prompt (used when a chat has no system message).');
      lines.push(`SYSTEM ${quoteTriple(fit.system, 'default system prompt')}`, '');
    }
    stops.push(...fit.spec.stops);
  } else {
    lines.push(
      '# NOTE: no TEMPLATE is written because the training chat template could not be reproduced as a',
      '# ChatML, Llama-3, Phi or Gemma style Go template:',
      ...reasons.map((r) => `#   - ${r.replace(/\n/g, '\\n')}`),
      '# Ollama then picks a template from the chat template embedded in the GGUF (tokenizer.chat_template)',
      '# if it recognises it; otherwise write a TEMPLATE by hand.',
    );
    if (input.chatTemplate) {
      lines.push('# The training chat template (Jinja), for reference:');
      for (const l of input.chatTemplate.split('\n')) lines.push(`#   ${l}`);
    }
    lines.push('');
  }
  for (const eos of input.eosTexts) if (!stops.includes(eos)) stops.push(eos);
  for (const s of stops) lines.push(`PARAMETER stop ${JSON.stringify(s)}`);
  for (const [k, v] of samplingParameters(input.generationConfig)) lines.push(`PARAMETER ${k} ${v}`);
  return {
    text: lines.join('\n') + '\n',
    style: fit?.spec.style,
    defaultSystem: fit?.system,
    reason: fit ? undefined : reasons.join('; '),
  };
}
