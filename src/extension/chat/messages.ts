// VS Code's chat request messages → the ChatMessage list `ftune serve` renders with the model's own chat
// template (the one training used). No vscode import: the parts are recognised by shape, so this is
// unit tested under plain Node.

import type { ChatMessage, DecodingOptions } from '../../core/protocol';

/** vscode.LanguageModelChatMessageRole: User = 1, Assistant = 2 (System = 3 in the proposed API). */
export const ROLE_USER = 1;
export const ROLE_ASSISTANT = 2;
export const ROLE_SYSTEM = 3;

/** The shape of vscode.LanguageModelChatRequestMessage. */
export interface RequestMessageLike {
  readonly role: number;
  readonly content: ReadonlyArray<unknown>;
  readonly name: string | undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The text of a part: a LanguageModelTextPart's value, a tool result's text parts; '' for anything else (images, tool calls). */
function partText(part: unknown): string {
  if (typeof part === 'string') return part;
  if (!isRecord(part)) return '';
  if (typeof part.value === 'string') return part.value;
  if (typeof part.callId === 'string' && Array.isArray(part.content)) return part.content.map(partText).join('');
  return '';
}

const isToolResult = (part: unknown): boolean => isRecord(part) && typeof part.callId === 'string' && Array.isArray(part.content);
const isToolCall = (part: unknown): boolean => isRecord(part) && typeof part.callId === 'string' && typeof part.name === 'string' && 'input' in part;

function roleName(role: number): ChatMessage['role'] {
  if (role === ROLE_ASSISTANT) return 'assistant';
  if (role === ROLE_SYSTEM) return 'system';
  return 'user';
}

/**
 * One ChatMessage per request message, text parts joined in order. A user message that only carries
 * tool results becomes a `tool` turn (the role chat templates give tool output). Our models advertise no
 * tool calling, so a tool call from another model's turn in the history is dropped (its text stays).
 */
export function toChatMessages(messages: readonly RequestMessageLike[]): ChatMessage[] {
  return messages.map((message) => {
    const parts = message.content.filter((p) => !isToolCall(p));
    const onlyToolResults = parts.length > 0 && parts.every(isToolResult);
    return { role: onlyToolResults ? 'tool' : roleName(message.role), content: parts.map(partText).join('') };
  });
}

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Decoding options from a request's `modelOptions` (OpenAI-style names: temperature, top_p, top_k, seed,
 * max_tokens). Greedy unless a temperature > 0 is asked for, so a caller that sets nothing gets exactly
 * `ftune generate --greedy`.
 */
export function decodingFromModelOptions(modelOptions: Readonly<Record<string, unknown>> | undefined, maxOutputTokens: number): DecodingOptions {
  const o = modelOptions ?? {};
  const asked = finite(o.max_tokens) ?? finite(o.max_new_tokens) ?? finite(o.maxOutputTokens);
  const max_new_tokens = asked !== undefined && asked >= 1 ? Math.min(Math.floor(asked), maxOutputTokens) : maxOutputTokens;
  const temperature = finite(o.temperature);
  if (temperature === undefined || temperature <= 0 || o.greedy === true) return { max_new_tokens, greedy: true, stop: true };
  return {
    max_new_tokens,
    greedy: false,
    temperature,
    top_p: finite(o.top_p) ?? 1,
    top_k: Math.max(0, Math.floor(finite(o.top_k) ?? 0)),
    seed: Math.floor(finite(o.seed) ?? 0),
    stop: true,
  };
}
