// Training-data formats: which one a file is in, how its columns map onto ours (`--field`), and
// whether each record is usable. Every problem is tied to a physical line so the user can jump to it;
// nothing here tokenizes, so a broken file is reported completely and cheaply before any real work.
//
// Formats (TRL's dataset conventions):
//   messages           {"messages": [{"role": "user", "content": ...}, {"role": "assistant", ...}]}
//                      assistant messages may carry `reasoning_content` (or <think>…</think> in content)
//                      and `tool_calls`; `tool` messages hold results; the row may list `tools` (schemas)
//   prompt-completion  {"prompt": "...", "completion": "..."}  (or both as message lists)
//   text               {"text": "..."}
//   preference         {"prompt": ..., "chosen": ..., "rejected": ...}  each a string or a message list;
//                      the prompt may be left out when chosen/rejected are whole conversations.

import type { ChatMessage, ToolCall, ToolSchema } from './protocol';
import { answerText } from './chatSpans';
import type { DataFormat } from './runConfig';
import { detectColumnMapping } from './columnAliases';
import { parseFieldMap } from './datasets/fieldMap';
import { createJsonlStats, describeJsonType, readJsonl, type JsonObject, type JsonlStats } from './jsonl';

import type { RecordFormat } from './dataFormats';

export type { RecordFormat };
export const RECORD_FORMATS: readonly RecordFormat[] = ['messages', 'prompt-completion', 'text', 'preference'];

/** Our names for columns; `--field prompt=question` reads our `prompt` from the file's `question`. */
export const CANONICAL_FIELDS = ['messages', 'prompt', 'completion', 'text', 'chosen', 'rejected', 'role', 'content'] as const;
export type CanonicalField = (typeof CANONICAL_FIELDS)[number];
export type FieldMap = Partial<Record<CanonicalField, string>>;

export const ALLOWED_ROLES: readonly string[] = ['system', 'user', 'assistant', 'tool'];
/** ShareGPT's role names, accepted only when the data is declared ShareGPT-like with `--field role=from`. */
const SHAREGPT_ROLES: Readonly<Record<string, string>> = { human: 'user', gpt: 'assistant', system: 'system', tool: 'tool' };

/**
 * A conversation; assistant turns at index >= trainFrom are trained (0 = all of them). `tools` are
 * the function schemas the model is shown (passed to the chat template as `tools=`).
 */
export interface ConversationRecord { kind: 'messages'; messages: ChatMessage[]; trainFrom: number; tools?: ToolSchema[] }
export interface PromptCompletionRecord { kind: 'prompt-completion'; prompt: string; completion: string }
export interface TextRecord { kind: 'text'; text: string }
export interface PreferenceRecord {
  kind: 'preference';
  prompt: string | ChatMessage[];
  chosen: string | ChatMessage[];
  rejected: string | ChatMessage[];
  /** function schemas passed to the chat template, as for conversations. */
  tools?: ToolSchema[];
}
export type NormalizedRecord = ConversationRecord | PromptCompletionRecord | TextRecord | PreferenceRecord;

export interface Problem {
  file: string;
  /** 1-based physical line; 0 when the problem concerns the whole file. */
  line: number;
  reason: string;
}

export function formatProblem(p: Problem): string {
  return p.line > 0 ? `${p.file}:${p.line}: ${p.reason}` : `${p.file}: ${p.reason}`;
}

export const PROBLEMS_IN_MESSAGE = 20;

/** A data file that cannot be trained on as it is. `.problems` holds every problem found. */
export class DataFileError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    const shown = problems.slice(0, PROBLEMS_IN_MESSAGE).map(formatProblem);
    if (problems.length > PROBLEMS_IN_MESSAGE) shown.push(`... and ${problems.length - PROBLEMS_IN_MESSAGE} more`);
    super(shown.join('\n'));
    this.name = 'DataFileError';
    this.problems = problems;
  }
}

// ---------------------------------------------------------------- field mapping

/** Parses `--field KEY=COLUMN` values. Throws a plain Error (a usage mistake, not a data problem). */
export function parseFieldArgs(specs: readonly string[]): FieldMap {
  return checkFields(parseFieldMap(specs));
}

/** Checks a field mapping (e.g. RunConfig.fields) and returns it typed. */
export function checkFields(fields: Readonly<Record<string, string>> | undefined): FieldMap {
  const out: FieldMap = {};
  for (const [key, column] of Object.entries(fields ?? {})) {
    if (!(CANONICAL_FIELDS as readonly string[]).includes(key)) {
      throw new Error(`unknown field "${key}" in --field ${key}=${column} (known: ${CANONICAL_FIELDS.join(', ')})`);
    }
    if (column === '') throw new Error(`--field ${key}= needs a column name`);
    out[key as CanonicalField] = column;
  }
  return out;
}

function column(fields: FieldMap, key: CanonicalField): string {
  return fields[key] ?? key;
}

/** `"question" (mapped from prompt)` when remapped, so messages name the column the user can see. */
function columnLabel(fields: FieldMap, key: CanonicalField): string {
  const name = column(fields, key);
  return name === key ? `"${key}"` : `"${name}" (--field ${key}=${name})`;
}

// ---------------------------------------------------------------- detection

/** The format one row looks like, or undefined. Checked in an order where richer formats win. */
export function detectRowFormat(row: JsonObject, fields: FieldMap = {}): RecordFormat | undefined {
  const has = (key: CanonicalField): boolean => row[column(fields, key)] !== undefined;
  if (has('messages')) return 'messages';
  if (has('chosen') && has('rejected')) return 'preference';
  if (has('prompt') && has('completion')) return 'prompt-completion';
  if (has('text')) return 'text';
  return undefined;
}

/** How many leading object rows auto-detection looks at. */
export const DETECTION_ROWS = 32;

export function detectFormat(rows: readonly JsonObject[], fields: FieldMap = {}): RecordFormat | undefined {
  for (const row of rows.slice(0, DETECTION_ROWS)) {
    const format = detectRowFormat(row, fields);
    if (format) return format;
  }
  return undefined;
}

/** Why detection failed, with the `--field` mapping the keys suggest. */
export function detectionFailure(rows: readonly JsonObject[]): string {
  const keys = [...new Set(rows.slice(0, DETECTION_ROWS).flatMap((r) => Object.keys(r)))];
  const has = (k: string): boolean => keys.includes(k);
  let hint = 'pass --format and --field KEY=COLUMN';
  if (has('question') && has('answer')) hint = 'try --field prompt=question --field completion=answer';
  else if (has('instruction') && has('output')) hint = 'try --field prompt=instruction --field completion=output';
  else if (has('input') && has('output')) hint = 'try --field prompt=input --field completion=output';
  else if (has('conversations')) hint = 'try --field messages=conversations (ShareGPT data also needs --field role=from --field content=value)';
  else if (has('content')) hint = 'try --field text=content';
  const shown = keys.length ? keys.slice(0, 12).map((k) => `"${k}"`).join(', ') : 'none';
  return `cannot tell the data format from the first rows (their keys: ${shown}); expected "messages", "prompt"/"completion", "text" or "prompt"/"chosen"/"rejected"; ${hint}`;
}

// ---------------------------------------------------------------- record validation

export type Checked<T> = { ok: true; record: T } | { ok: false; reasons: string[] };

/** Validates one row against `format` and converts it to our shape. Never throws. */
export function normalizeRecord(row: JsonObject, format: RecordFormat, fields: FieldMap = {}): Checked<NormalizedRecord> {
  switch (format) {
    case 'messages': return checkMessagesRow(row, fields);
    case 'prompt-completion': return checkPromptCompletionRow(row, fields);
    case 'text': return checkTextRow(row, fields);
    case 'preference': return checkPreferenceRow(row, fields);
  }
}

function fail<T>(...reasons: string[]): Checked<T> {
  return { ok: false, reasons };
}

function missing(fields: FieldMap, key: CanonicalField): string {
  return `missing field ${columnLabel(fields, key)}`;
}

function checkMessagesRow(row: JsonObject, fields: FieldMap): Checked<ConversationRecord> {
  const value = row[column(fields, 'messages')];
  if (value === undefined) return fail(missing(fields, 'messages'));
  const parsed = parseMessageList(value, columnLabel(fields, 'messages'), fields);
  if (!parsed.ok) return parsed;
  const messages = parsed.record;
  const order = checkTurnOrder(messages) ?? checkToolResults(messages);
  if (order) return fail(order);
  const trained = checkAssistantTurns(messages, 0, 'conversation');
  if (trained) return fail(trained);
  const tools = parseTools(row.tools);
  if (!tools.ok) return tools;
  return { ok: true, record: { kind: 'messages', messages, trainFrom: 0, ...(tools.record.length ? { tools: tools.record } : {}) } };
}

/**
 * The row's `tools`: a list of function schemas (`{type: 'function', function: {name, parameters}}`,
 * OpenAI / TRL), or that list as a JSON string (as some Hub datasets store it).
 */
function parseTools(value: unknown): Checked<ToolSchema[]> {
  if (value === undefined || value === null) return { ok: true, record: [] };
  let list = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch {
      return fail('"tools" is a string but not a JSON list of tool schemas');
    }
  }
  if (!Array.isArray(list)) return fail(`"tools" must be a list of tool schemas, got ${describeJsonType(list)}`);
  for (let i = 0; i < list.length; i++) {
    const tool: unknown = list[i];
    if (!isPlainObject(tool)) return fail(`"tools"[${i}] must be a tool schema object, got ${describeJsonType(tool)}`);
    const fn = tool.function;
    const name = isPlainObject(fn) ? fn.name : tool.name;
    if (typeof name !== 'string' || name === '') return fail(`"tools"[${i}] has no function name (expected {"type": "function", "function": {"name": ..., "parameters": ...}})`);
  }
  return { ok: true, record: list as ToolSchema[] };
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every tool result answers a call: it follows an assistant turn with tool_calls (or another result). */
function checkToolResults(messages: readonly ChatMessage[]): string | undefined {
  let open = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (message.role === 'assistant') open = message.tool_calls?.length ?? 0;
    else if (message.role === 'tool') {
      if (open === 0) return `message ${i} is a tool result, but no assistant tool call precedes it (or there are more results than calls)`;
      open -= 1;
    } else open = 0;
  }
  return undefined;
}

function checkPromptCompletionRow(row: JsonObject, fields: FieldMap): Checked<NormalizedRecord> {
  const prompt = row[column(fields, 'prompt')];
  const completion = row[column(fields, 'completion')];
  const reasons: string[] = [];
  if (prompt === undefined) reasons.push(missing(fields, 'prompt'));
  if (completion === undefined) reasons.push(missing(fields, 'completion'));
  if (reasons.length) return fail(...reasons);
  // TRL's conversational prompt-completion: both are message lists; only the completion is trained.
  if (Array.isArray(prompt) && Array.isArray(completion)) {
    const p = parseMessageList(prompt, columnLabel(fields, 'prompt'), fields, true);
    const c = parseMessageList(completion, columnLabel(fields, 'completion'), fields);
    if (!p.ok || !c.ok) return fail(...(p.ok ? [] : p.reasons), ...(c.ok ? [] : c.reasons));
    const messages = [...p.record, ...c.record];
    const order = checkTurnOrder(messages) ?? checkToolResults(messages);
    if (order) return fail(order);
    const trained = checkAssistantTurns(messages, p.record.length, 'completion');
    if (trained) return fail(trained);
    const tools = parseTools(row.tools);
    if (!tools.ok) return tools;
    return { ok: true, record: { kind: 'messages', messages, trainFrom: p.record.length, ...(tools.record.length ? { tools: tools.record } : {}) } };
  }
  if (typeof prompt !== 'string') reasons.push(wrongType(fields, 'prompt', 'a string', prompt));
  if (typeof completion !== 'string') reasons.push(wrongType(fields, 'completion', 'a string', completion));
  else if (completion.trim() === '') reasons.push(`${columnLabel(fields, 'completion')} is empty`);
  if (reasons.length || typeof prompt !== 'string' || typeof completion !== 'string') return fail(...reasons);
  return { ok: true, record: { kind: 'prompt-completion', prompt, completion } };
}

function checkTextRow(row: JsonObject, fields: FieldMap): Checked<TextRecord> {
  const text = row[column(fields, 'text')];
  if (text === undefined) return fail(missing(fields, 'text'));
  if (typeof text !== 'string') return fail(wrongType(fields, 'text', 'a string', text));
  if (text.trim() === '') return fail(`${columnLabel(fields, 'text')} is empty`);
  return { ok: true, record: { kind: 'text', text } };
}

function checkPreferenceRow(row: JsonObject, fields: FieldMap): Checked<PreferenceRecord> {
  const reasons: string[] = [];
  const read = (key: 'chosen' | 'rejected'): string | ChatMessage[] | undefined => {
    const value = row[column(fields, key)];
    if (value === undefined) { reasons.push(missing(fields, key)); return undefined; }
    return readResponse(value, key, fields, reasons);
  };
  const chosen = read('chosen');
  const rejected = read('rejected');
  const rawPrompt = row[column(fields, 'prompt')];
  let prompt: string | ChatMessage[] | undefined;
  if (rawPrompt !== undefined) prompt = readPrompt(rawPrompt, fields, reasons);
  if (reasons.length || chosen === undefined || rejected === undefined) return fail(...reasons);
  if (prompt === undefined) {
    // TRL's implicit prompt: chosen and rejected are whole conversations sharing their opening turns.
    if (typeof chosen === 'string' || typeof rejected === 'string') return fail(missing(fields, 'prompt'));
    const shared = commonPrefixLength(chosen, rejected);
    prompt = chosen.slice(0, shared);
    return withTools(finishPreference(prompt, chosen.slice(shared), rejected.slice(shared), fields), row.tools);
  }
  return withTools(finishPreference(prompt, chosen, rejected, fields), row.tools);
}

function withTools(checked: Checked<PreferenceRecord>, value: unknown): Checked<PreferenceRecord> {
  if (!checked.ok) return checked;
  const tools = parseTools(value);
  if (!tools.ok) return tools;
  return tools.record.length ? { ok: true, record: { ...checked.record, tools: tools.record } } : checked;
}

function finishPreference(
  prompt: string | ChatMessage[],
  chosen: string | ChatMessage[],
  rejected: string | ChatMessage[],
  fields: FieldMap,
): Checked<PreferenceRecord> {
  if (sameResponse(chosen, rejected)) return fail('chosen and rejected are identical (nothing to prefer)');
  const promptMessages = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
  for (const key of ['chosen', 'rejected'] as const) {
    const response = key === 'chosen' ? chosen : rejected;
    if (typeof response === 'string' && response.trim() === '') return fail(`${columnLabel(fields, key)} is empty`);
    // a string response is the assistant's turn after the prompt, so it is order-checked like one
    const messages = [...promptMessages, ...(typeof response === 'string' ? [{ role: 'assistant', content: response }] : response)];
    const order = checkTurnOrder(messages) ?? checkToolResults(messages);
    if (order) return fail(`${key}: ${order}`);
    const trained = checkAssistantTurns(messages, promptMessages.length, key);
    if (trained) return fail(trained);
  }
  return { ok: true, record: { kind: 'preference', prompt, chosen, rejected } };
}

function readPrompt(value: unknown, fields: FieldMap, reasons: string[]): string | ChatMessage[] | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const parsed = parseMessageList(value, columnLabel(fields, 'prompt'), fields, true);
    if (parsed.ok) return parsed.record;
    reasons.push(...parsed.reasons);
    return undefined;
  }
  reasons.push(wrongType(fields, 'prompt', 'a string or a list of messages', value));
  return undefined;
}

function readResponse(value: unknown, key: 'chosen' | 'rejected', fields: FieldMap, reasons: string[]): string | ChatMessage[] | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const parsed = parseMessageList(value, columnLabel(fields, key), fields);
    if (parsed.ok) return parsed.record;
    reasons.push(...parsed.reasons);
    return undefined;
  }
  reasons.push(wrongType(fields, key, 'a string or a list of messages', value));
  return undefined;
}

function commonPrefixLength(a: readonly ChatMessage[], b: readonly ChatMessage[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n].role === b[n].role && a[n].content === b[n].content) n++;
  return n;
}

function sameResponse(a: string | ChatMessage[], b: string | ChatMessage[]): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.length === b.length && commonPrefixLength(a, b) === a.length;
}

function wrongType(fields: FieldMap, key: CanonicalField, expected: string, got: unknown): string {
  return `${columnLabel(fields, key)} must be ${expected}, got ${describeJsonType(got)}`;
}

/** A message list given outside a data file (`ftune generate --messages`): checked and normalised like data. */
export function parseChatMessages(value: unknown, label: string): Checked<ChatMessage[]> {
  return parseMessageList(value, label, {});
}

/** A `tools` list given outside a data file (`ftune generate --tools`). */
export function parseToolList(value: unknown): Checked<ToolSchema[]> {
  return parseTools(value);
}

/** Checks each message's shape and role; `allowEmpty` for prompts, which may be an empty list. */
function parseMessageList(value: unknown, label: string, fields: FieldMap, allowEmpty = false): Checked<ChatMessage[]> {
  if (!Array.isArray(value)) return fail(`${label} must be a list of {role, content} messages, got ${describeJsonType(value)}`);
  if (value.length === 0 && !allowEmpty) return fail(`${label} is an empty list`);
  const roleKey = column(fields, 'role');
  const contentKey = column(fields, 'content');
  const shareGpt = fields.role !== undefined;
  const reasons: string[] = [];
  const messages: ChatMessage[] = [];
  value.forEach((item: unknown, i) => {
    const where = `${label}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      reasons.push(`${where} must be an object with "${roleKey}" and "${contentKey}", got ${describeJsonType(item)}`);
      return;
    }
    const message = item as JsonObject;
    const role = message[roleKey];
    // an assistant turn that only calls tools may have no content (OpenAI writes null)
    const callsTools = message.tool_calls !== undefined && message.tool_calls !== null;
    const content = (message[contentKey] === undefined || message[contentKey] === null) && callsTools ? '' : message[contentKey];
    if (role === undefined) reasons.push(`${where}: missing "${roleKey}"`);
    else if (typeof role !== 'string') reasons.push(`${where}: "${roleKey}" must be a string, got ${describeJsonType(role)}`);
    if (content === undefined) reasons.push(`${where}: missing "${contentKey}"`);
    else if (typeof content !== 'string') reasons.push(`${where}: "${contentKey}" must be a string, got ${describeJsonType(content)}`);
    if (typeof role !== 'string' || typeof content !== 'string') return;
    const normalized = ALLOWED_ROLES.includes(role) ? role : shareGpt ? SHAREGPT_ROLES[role] : undefined;
    if (normalized === undefined) {
      reasons.push(`${where}: unknown role "${role}" (allowed: ${ALLOWED_ROLES.join(', ')}${shareGpt ? ', human, gpt' : ''})`);
      return;
    }
    const extras = messageExtras(message, normalized, where);
    if (typeof extras === 'string') { reasons.push(extras); return; }
    messages.push({ role: normalized, content, ...extras });
  });
  if (reasons.length === 0) return { ok: true, record: messages };
  // Only the first few, so one huge broken conversation does not bury the rest of the report.
  const more = reasons.length > 3 ? [`(${reasons.length - 3} more problems in ${label})`] : [];
  return fail(...reasons.slice(0, 3), ...more);
}

type MessageExtras = Pick<ChatMessage, 'reasoning_content' | 'tool_calls' | 'tool_call_id' | 'name'>;

/** reasoning_content and tool_calls of an assistant, tool_call_id / name of a tool result; or why not. */
function messageExtras(message: JsonObject, role: string, where: string): MessageExtras | string {
  const extras: MessageExtras = {};
  const reasoning = message.reasoning_content;
  if (reasoning !== undefined && reasoning !== null) {
    if (role !== 'assistant') return `${where}: only assistant messages carry "reasoning_content"`;
    if (typeof reasoning !== 'string') return `${where}: "reasoning_content" must be a string, got ${describeJsonType(reasoning)}`;
    extras.reasoning_content = reasoning;
  }
  const calls = message.tool_calls;
  if (calls !== undefined && calls !== null) {
    if (role !== 'assistant') return `${where}: only assistant messages carry "tool_calls"`;
    if (!Array.isArray(calls)) return `${where}: "tool_calls" must be a list, got ${describeJsonType(calls)}`;
    const parsed: ToolCall[] = [];
    for (let k = 0; k < calls.length; k++) {
      const call = parseToolCall(calls[k], `${where}.tool_calls[${k}]`);
      if (typeof call === 'string') return call;
      parsed.push(call);
    }
    if (parsed.length) extras.tool_calls = parsed;
  }
  for (const key of ['tool_call_id', 'name'] as const) {
    const value = message[key];
    if (value === undefined || value === null || role !== 'tool') continue;
    if (typeof value !== 'string') return `${where}: "${key}" must be a string, got ${describeJsonType(value)}`;
    extras[key] = value;
  }
  return extras;
}

/** `{type: 'function', function: {name, arguments}}` (or a bare `{name, arguments}`); arguments an object or a JSON-object string. */
function parseToolCall(value: unknown, where: string): ToolCall | string {
  if (!isPlainObject(value)) return `${where} must be an object {"type": "function", "function": {"name", "arguments"}}, got ${describeJsonType(value)}`;
  if (value.type !== undefined && value.type !== 'function') return `${where}: type must be "function", got ${JSON.stringify(value.type)}`;
  const fn = isPlainObject(value.function) ? value.function : value;
  if (typeof fn.name !== 'string' || fn.name === '') return `${where}: missing the function name`;
  let args: unknown = fn.arguments ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return `${where}: arguments must be a JSON object, got a string that is not JSON`;
    }
  }
  if (!isPlainObject(args)) return `${where}: arguments must be a JSON object (or a string holding one), got ${describeJsonType(args)}`;
  return { type: 'function', ...(typeof value.id === 'string' ? { id: value.id } : {}), function: { name: fn.name, arguments: args } };
}

const NEXT_ROLES: Readonly<Record<string, readonly string[]>> = {
  start: ['system', 'user'],
  system: ['user'],
  user: ['assistant'],
  assistant: ['user', 'tool'],
  tool: ['tool', 'assistant'],
};

/**
 * Turn order: an optional leading system message, then user/assistant alternating, with tool results
 * only after an assistant turn. Prompts are checked together with their responses.
 */
export function checkTurnOrder(messages: readonly ChatMessage[]): string | undefined {
  let previous = 'start';
  for (let i = 0; i < messages.length; i++) {
    const role = messages[i].role;
    if (!NEXT_ROLES[previous].includes(role)) {
      if (role === 'system') return `message ${i} is a system message; only the first message may be one`;
      if (previous === 'start') return `the conversation starts with "${role}"; it must start with "user" (after an optional "system")`;
      return `turns do not alternate: message ${i} ("${role}") follows "${previous}"`;
    }
    previous = role;
  }
  return undefined;
}

/** There must be something to train on: an assistant turn at index >= from, none of them empty. */
function checkAssistantTurns(messages: readonly ChatMessage[], from: number, what: string): string | undefined {
  let found = false;
  for (let i = from; i < messages.length; i++) {
    const message = messages[i];
    if (message.role !== 'assistant') continue;
    found = true;
    if (message.tool_calls?.length) continue;
    if (message.content.trim() === '') return `message ${i} is an assistant turn with empty content`;
    if (message.content.includes('</think>') && answerText(message) === '') {
      return `message ${i} is an assistant turn with reasoning but no answer after </think>`;
    }
  }
  return found ? undefined : `the ${what} has no assistant turn (nothing to train on)`;
}

// ---------------------------------------------------------------- reading a whole file

export interface ScanOptions {
  format?: DataFormat;
  fields?: FieldMap;
  /** stop once this many valid records were read (preview); 0 / undefined = the whole file. */
  maxRecords?: number;
}

export interface ParsedRecord { line: number; record: NormalizedRecord }

export interface ScanResult {
  file: string;
  /** undefined when auto-detection found nothing to go on (a whole-file problem then says why). */
  format: RecordFormat | undefined;
  /** non-blank lines seen. */
  rows: number;
  valid: number;
  problems: Problem[];
  stats: JsonlStats;
  /** the column mapping auto-detection chose from core/columnAliases.ts when no --field was given. */
  mapped?: FieldMap;
}

/**
 * Streams a JSONL file: detects the format from the first rows (unless given), validates every row
 * and hands each valid record to `onRecord`. Problems are collected, never thrown; only an unreadable
 * file raises a DataFileError.
 */
export async function scanRecords(
  file: string,
  options: ScanOptions,
  onRecord: (record: ParsedRecord, format: RecordFormat) => void,
): Promise<ScanResult> {
  let fields = options.fields ?? {};
  const stats = createJsonlStats();
  const result: ScanResult = { file, format: options.format === 'auto' ? undefined : options.format, rows: 0, valid: 0, problems: [], stats };
  const pending: { line: number; value: JsonObject }[] = [];
  let detectionDone = result.format !== undefined;

  const check = (line: number, value: JsonObject): void => {
    if (!result.format) return;
    const checked = normalizeRecord(value, result.format, fields);
    if (!checked.ok) {
      for (const reason of checked.reasons) result.problems.push({ file, line, reason });
      return;
    }
    result.valid += 1;
    onRecord({ line, record: checked.record }, result.format);
  };
  const detect = (): void => {
    detectionDone = true;
    const rows = pending.map((p) => p.value);
    result.format = detectFormat(rows, fields);
    const aliased = !result.format && Object.keys(fields).length === 0 ? rows.map(detectColumnMapping).find((d) => d !== undefined) : undefined;
    if (aliased) [result.format, fields, result.mapped] = [aliased.format, aliased.fields as FieldMap, aliased.fields as FieldMap];
    if (!result.format) result.problems.unshift({ file, line: 0, reason: detectionFailure(rows) });
    for (const p of pending.splice(0)) check(p.line, p.value);
  };
  const enough = (): boolean => options.maxRecords !== undefined && options.maxRecords > 0 && result.valid >= options.maxRecords;

  try {
    for await (const entry of readJsonl(file, { stats })) {
      result.rows += 1;
      if (entry.error !== undefined) {
        result.problems.push({ file, line: entry.line, reason: entry.error });
      } else if (detectionDone) {
        check(entry.line, entry.value);
      } else {
        pending.push({ line: entry.line, value: entry.value });
        if (pending.length >= DETECTION_ROWS || detectRowFormat(entry.value, fields)) detect();
      }
      if (enough()) break;
    }
  } catch (err) {
    // Only file-system failures become a data problem; a failing onRecord callback is the caller's.
    if (!isFileSystemError(err)) throw err;
    throw new DataFileError([{ file, line: 0, reason: `cannot read the file: ${err.message}` }]);
  }
  if (!detectionDone && pending.length) detect();
  if (result.rows === 0) result.problems.push({ file, line: 0, reason: 'no records (the file is empty or has only blank lines)' });
  result.problems.sort((a, b) => a.line - b.line);
  return result;
}

function isFileSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && !(err instanceof DataFileError);
}

/** Reads and validates a whole file; throws a DataFileError listing every bad line. */
export async function readRecords(file: string, options: ScanOptions): Promise<{ format: RecordFormat; records: ParsedRecord[]; rows: number; stats: JsonlStats; mapped?: FieldMap }> {
  const records: ParsedRecord[] = [];
  const scan = await scanRecords(file, options, (r) => records.push(r));
  if (scan.problems.length || !scan.format) throw new DataFileError(scan.problems);
  return { format: scan.format, records, rows: scan.rows, stats: scan.stats, mapped: scan.mapped };
}
