// Which characters of a rendered conversation each assistant message contributes: the masking rule of
// shared/conformance/README.md. The whole conversation is rendered once with the model's own chat
// template; each assistant message is trained on what follows its role header (reasoning, content, tool
// calls) up to and including the template's end-of-turn marker. System, user and tool text and the role
// headers are never inside a span.
//
// Why not "render messages[:i] and take the difference": real templates rewrite history (Qwen3 drops
// the reasoning of earlier turns and adds an empty <think></think> to the last one), so a prefix of the
// rendering is often not a prefix of the whole. Instead every message is found in the whole rendering,
// in order:
//   - an assistant's role header is the template's generation prompt (render(messages[:i], true) minus
//     render(messages[:i], false)), looked up after the previous message;
//   - its answer text (trimmed, after any </think>) and each tool call's function name must follow it
//     (in any order) before the template's end-of-turn marker; what lies between the header and them
//     (a <think> block) is part of the turn;
//   - the end-of-turn marker is what the template writes after an assistant's content before the next
//     turn, found once per template by rendering a probe conversation (`<|im_end|>\n`,
//     `<end_of_turn>\n`, `<|eot_id|>`, ...). The last message runs to the end of the rendering.
// Where the template renders history like the tail (ChatML), this gives exactly the prefix-difference
// spans of the conformance fixtures.

import type { ChatMessage, ToolSchema } from './protocol';
import type { Tokenizer } from './tokenizer';

/** A conversation the template cannot be trained on as the user meant it (reported as `file:line: message`). */
export class ConversationMaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConversationMaskError';
  }
}

/** The reason to report for a record whose rendering or masking failed. */
export function templateFailureReason(err: unknown): string {
  if (err instanceof ConversationMaskError) return err.message;
  return `the chat template failed: ${err instanceof Error ? err.message : String(err)}`;
}

export interface ConversationInput {
  messages: readonly ChatMessage[];
  /** assistant messages at index >= trainFrom are trained; earlier ones are context. */
  trainFrom: number;
  tools?: readonly ToolSchema[];
}

export interface AssistantSpan {
  /** index in messages. */
  message: number;
  /** 1-based count among the conversation's assistant messages (as error messages name it). */
  turn: number;
  /** character range [start, end) of the rendering. */
  start: number;
  end: number;
}

export interface RenderedConversation {
  text: string;
  spans: AssistantSpan[];
}

export function unrenderedTurn(turn: number): ConversationMaskError {
  return new ConversationMaskError(`assistant turn ${turn} is not rendered by this model's chat template`);
}

/** Renders the whole conversation and finds each trained assistant message's span in it. */
export function renderWithAssistantSpans(conversation: ConversationInput, tokenizer: Tokenizer): RenderedConversation {
  const { messages, trainFrom } = conversation;
  const options = conversation.tools?.length ? { tools: conversation.tools } : undefined;
  const render = (upTo: number, generationPrompt: boolean): string =>
    tokenizer.applyChatTemplate(messages.slice(0, upTo), generationPrompt, options);
  const text = renderWhole(conversation, () => render(messages.length, false));
  const traits = templateTraits(tokenizer);
  checkToolsRendered(conversation.tools, text);

  const spans: AssistantSpan[] = [];
  let cursor = 0;
  let turn = 0;
  messages.forEach((message, i) => {
    if (message.role !== 'assistant') {
      const found = findMessageText(text, message, cursor);
      if (found !== undefined) cursor = found;
      else if (message.role === 'tool' && message.content.trim() !== '') {
        throw new ConversationMaskError(`the tool result in message ${i} is not rendered by this model's chat template`);
      }
      return;
    }
    turn += 1;
    // (reasoning of a context turn may be dropped: it is not trained, and inference drops it the same way)
    if (i >= trainFrom && message.reasoning_content?.trim() && !traits.rendersReasoning()) {
      throw new ConversationMaskError(
        `assistant turn ${turn} has reasoning_content, which this model's chat template does not render; ` +
        'put it in the content as <think>…</think> to train on it',
      );
    }
    const generationPrompt = render(i, true);
    const history = render(i, false);
    const header = generationPrompt.slice(commonPrefixLength(generationPrompt, history));
    const located = locateAssistant(text, message, cursor, header, traits.endOfTurn, i === messages.length - 1);
    if (located.kind !== 'found') {
      if (i < trainFrom) return; // context only: nothing is trained on it, so it cannot be lost
      if (located.kind === 'tool-calls') {
        throw new ConversationMaskError(`the tool calls of assistant turn ${turn} are not rendered by this model's chat template (it does not support tool calling)`);
      }
      if (located.kind === 'content') {
        throw new ConversationMaskError(`the content of assistant turn ${turn} is not rendered by this model's chat template, only its tool calls (leave the content of a tool-calling turn empty)`);
      }
      throw unrenderedTurn(turn);
    }
    if (i >= trainFrom) spans.push({ message: i, turn, start: located.start, end: located.end });
    cursor = located.end;
  });
  return { text, spans };
}

/** A template that raises on tool messages (Gemma's "roles must alternate") cannot do tool calling: say so. */
function renderWhole(conversation: ConversationInput, render: () => string): string {
  try {
    return render();
  } catch (err) {
    const usesTools = conversation.tools?.length || conversation.messages.some((m) => m.role === 'tool' || m.tool_calls?.length);
    if (!usesTools) throw err;
    throw new ConversationMaskError(`this model's chat template cannot render this tool-calling conversation: ${err instanceof Error ? err.message : String(err)}`);
  }
}

type Located = { kind: 'found'; start: number; end: number } | { kind: 'missing' | 'tool-calls' | 'content' };

function locateAssistant(text: string, message: ChatMessage, from: number, header: string, endOfTurn: string, isLast: boolean): Located {
  const headerEnd = header ? findHeader(text, header, from) : from;
  if (headerEnd === undefined) return { kind: 'missing' };
  // The turn ends at the first end-of-turn marker after its header: text after that belongs to a later
  // turn (unless the marker is too plain to tell, or the message itself contains it).
  const markerCounts = endOfTurn.trim() !== '' && !message.content.includes(endOfTurn);
  const markerAt = markerCounts ? text.indexOf(endOfTurn, headerEnd) : -1;
  const turnEnd = markerAt >= 0 ? markerAt : text.length;
  const find = (anchor: string): { at: number; end: number } | undefined => {
    const at = text.indexOf(anchor, headerEnd);
    return at >= 0 && at + anchor.length <= turnEnd ? { at, end: at + anchor.length } : undefined;
  };
  const answer = answerText(message);
  const answerAt = answer ? find(answer) : undefined;
  const calls = (message.tool_calls ?? []).map((call) => find(call.function.name));
  const callsFound = calls.filter((c) => c !== undefined);
  if (answer && !answerAt) return { kind: callsFound.length ? 'content' : 'missing' };
  if (callsFound.length < calls.length) return { kind: 'tool-calls' };
  const found = [...(answerAt ? [answerAt] : []), ...callsFound];
  if (found.length === 0) return { kind: 'missing' };
  const position = Math.max(...found.map((f) => f.end));
  let end = position;
  if (isLast) end = text.length;
  else if (endOfTurn) {
    const marker = text.indexOf(endOfTurn, position);
    if (marker >= 0) end = marker + endOfTurn.length;
  }
  return { kind: 'found', start: header ? headerEnd : Math.min(...found.map((f) => f.at)), end };
}

/**
 * Where the role header ends. A template's generation prompt may carry more than the header written
 * in history (DeepSeek-R1's `<｜Assistant｜><think>\n`), so shorter prefixes (at least half) are tried.
 */
function findHeader(text: string, header: string, from: number): number | undefined {
  for (let length = header.length; length >= Math.ceil(header.length / 2); length--) {
    const at = text.indexOf(header.slice(0, length), from);
    if (at >= 0) return at + length;
  }
  return undefined;
}

/** The answer as templates render it: after any reasoning block, without surrounding whitespace. */
export function answerText(message: ChatMessage): string {
  const close = message.content.lastIndexOf('</think>');
  return (close >= 0 ? message.content.slice(close + '</think>'.length) : message.content).trim();
}

/** End of a non-assistant message's text in the rendering (templates trim it), or undefined. */
function findMessageText(text: string, message: ChatMessage, from: number): number | undefined {
  const anchor = message.content.trim();
  if (!anchor) return undefined;
  const at = text.indexOf(anchor, from);
  return at < 0 ? undefined : at + anchor.length;
}

function checkToolsRendered(tools: readonly ToolSchema[] | undefined, text: string): void {
  for (const tool of tools ?? []) {
    const name = toolName(tool);
    if (name && !text.includes(name)) {
      throw new ConversationMaskError(`the tools list is not rendered by this model's chat template (it does not support tool calling; tool "${name}" is missing)`);
    }
  }
}

/** The function name of a tool schema: `{type: 'function', function: {name}}` or a bare `{name}`. */
export function toolName(tool: ToolSchema): string | undefined {
  const fn = tool.function;
  if (typeof fn === 'object' && fn !== null && typeof (fn as { name?: unknown }).name === 'string') return (fn as { name: string }).name;
  return typeof tool.name === 'string' ? tool.name : undefined;
}

export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

// ---------------------------------------------------------------- per-template facts (probed once)

interface TemplateTraits {
  /** what the template writes after an assistant's content before the next turn ('' if nothing). */
  endOfTurn: string;
  rendersReasoning(): boolean;
}

const PROBE_ANSWER = 'ftune-probe-answer-5e1d';
const PROBE_REASONING = 'ftune-probe-reasoning-9c4b';
const traitsCache = new WeakMap<Tokenizer, TemplateTraits>();

function templateTraits(tokenizer: Tokenizer): TemplateTraits {
  let traits = traitsCache.get(tokenizer);
  if (!traits) {
    let reasoning: boolean | undefined;
    traits = {
      endOfTurn: probeEndOfTurn(tokenizer),
      rendersReasoning: () => (reasoning ??= probeReasoning(tokenizer)),
    };
    traitsCache.set(tokenizer, traits);
  }
  return traits;
}

/**
 * The end-of-turn marker: what follows an assistant's content both when it ends the conversation and
 * when a user turn follows (the common part, so a next header or a final eos is not included).
 */
function probeEndOfTurn(tokenizer: Tokenizer): string {
  const user = { role: 'user', content: 'ftune-probe-question' };
  const assistant = { role: 'assistant', content: PROBE_ANSWER };
  const tail = (messages: ChatMessage[]): string | undefined => {
    const text = renderProbe(tokenizer, messages);
    const at = text?.indexOf(PROBE_ANSWER) ?? -1;
    return text === undefined || at < 0 ? undefined : text.slice(at + PROBE_ANSWER.length);
  };
  // some templates insist on a system message: probe without one, then with one
  for (const opening of [[user], [{ role: 'system', content: 'ftune-probe-system' }, user]]) {
    const last = tail([...opening, assistant]);
    const middle = tail([...opening, assistant, { role: 'user', content: 'ftune-probe-followup' }]);
    if (last !== undefined && middle !== undefined) return last.slice(0, commonPrefixLength(last, middle));
  }
  return '';
}

function probeReasoning(tokenizer: Tokenizer): boolean {
  const text = renderProbe(tokenizer, [
    { role: 'user', content: 'ftune-probe-question' },
    { role: 'assistant', content: PROBE_ANSWER, reasoning_content: PROBE_REASONING },
  ]);
  return text?.includes(PROBE_REASONING) ?? false;
}

/** A probe a template refuses (it raises on shapes it does not expect) tells nothing: undefined. */
function renderProbe(tokenizer: Tokenizer, messages: ChatMessage[]): string | undefined {
  try {
    return tokenizer.applyChatTemplate(messages, false);
  } catch {
    return undefined;
  }
}
