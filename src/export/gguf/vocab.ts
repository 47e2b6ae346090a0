// The tokenizer as GGUF metadata (tokenizer.ggml.*), read from tokenizer.json / tokenizer_config.json /
// config.json the way convert_hf_to_gguf.py's _set_vocab_gpt2 + gguf-py's SpecialVocab do.
// Only byte-level BPE tokenizers (Llama 3, Qwen, SmolLM, GPT-2 style) are supported: they map to
// llama.cpp's "gpt2" tokenizer model. SentencePiece-style vocabularies (Llama 2) are refused.
import * as fs from 'fs';
import * as path from 'path';
import { bool, i32Array, str, strArray, u32, type MetadataValue } from './format';

/** llama.cpp's llama_token_type. */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[]; byte_fallback?: boolean };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: PreTokenizer | null;
  post_processor?: PostProcessor | null;
}
interface PreTokenizer {
  type: string;
  pretokenizers?: PreTokenizer[];
  pattern?: { Regex?: string; String?: string };
  use_regex?: boolean;
  individual_digits?: boolean;
}
interface PostProcessor {
  type: string;
  processors?: PostProcessor[];
  single?: ({ SpecialToken?: { id: string } } | { Sequence?: { id: string } })[];
}

export interface GgufVocab {
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
  /** tokenizer.ggml.pre: which pre-tokenizer regex llama.cpp applies. */
  pre: string;
  bosId?: number;
  eosId?: number;
  padId?: number;
  unkId?: number;
  addBos: boolean;
  addEos: boolean;
  /** text of the special tokens (for the Modelfile's stop list and template checks). */
  bosText?: string;
  eosText?: string;
}

// Pre-tokenizer split patterns as they appear in tokenizer.json, and llama.cpp's name for each.
const QWEN2_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const LLAMA3_REGEX = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/**
 * convert_hf_to_gguf.py identifies the pre-tokenizer by hashing the token ids of a probe text; we
 * read the same information straight from tokenizer.json's pre_tokenizer instead.
 */
export function detectPreTokenizer(pre: PreTokenizer | null | undefined): string | undefined {
  if (!pre) return undefined;
  const parts = pre.type === 'Sequence' ? pre.pretokenizers ?? [] : [pre];
  const split = parts.find((p) => p.type === 'Split');
  const byteLevel = parts.find((p) => p.type === 'ByteLevel');
  if (split && byteLevel) {
    const regex = split.pattern?.Regex;
    if (regex === QWEN2_REGEX) return 'qwen2';
    if (regex === LLAMA3_REGEX) return 'llama-bpe';
    return undefined;
  }
  if (byteLevel?.use_regex) {
    if (parts.length === 1) return 'gpt-2';
    if (parts.length === 2 && parts[0].type === 'Digits' && parts[0].individual_digits) return 'smollm';
  }
  return undefined;
}

/** convert's does_token_look_special: added tokens like <|im_end|> are control tokens even when not marked special. */
function looksSpecial(token: string): boolean {
  return (token.startsWith('<|') && token.endsWith('|>')) || ['<pad>', '<mask>'].includes(token);
}

function readJson<T>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

function firstId(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  return undefined;
}

/** Reads the tokenizer of a model folder; `vocabSize` is config.json's (rows of the embedding). */
export function readGgufVocab(modelDir: string, vocabSize: number): { vocab: GgufVocab; warnings: string[] } {
  const warnings: string[] = [];
  const tj = readJson<TokenizerJson>(path.join(modelDir, 'tokenizer.json'));
  if (!tj) throw new Error(`${modelDir}: GGUF export needs tokenizer.json`);
  const model = tj.model;
  if (!model || model.type !== 'BPE' || !model.vocab) throw new Error(`${modelDir}/tokenizer.json: GGUF export supports BPE tokenizers only (got ${model?.type ?? 'none'})`);
  if (model.byte_fallback) throw new Error(`${modelDir}/tokenizer.json: SentencePiece-style (byte_fallback) tokenizers are not supported by the GGUF export`);
  const config = readJson<Record<string, unknown>>(path.join(modelDir, 'tokenizer_config.json')) ?? {};
  const modelConfig = readJson<Record<string, unknown>>(path.join(modelDir, 'config.json')) ?? {};

  const byId = new Map<number, { text: string; type: number }>();
  for (const [text, id] of Object.entries(model.vocab)) byId.set(id, { text, type: TokenType.NORMAL });
  for (const added of tj.added_tokens ?? []) {
    const control = added.special === true || looksSpecial(added.content);
    // convert pre-normalizes SentencePiece's ▁ in user-defined tokens to a space
    byId.set(added.id, { text: control ? added.content : added.content.replace(/\u2581/g, ' '), type: control ? TokenType.CONTROL : TokenType.USER_DEFINED });
  }
  let maxId = -1;
  for (const id of byId.keys()) maxId = Math.max(maxId, id);
  if (maxId >= vocabSize) throw new Error(`${modelDir}: the tokenizer has token id ${maxId} but config.json's vocab_size is ${vocabSize}`);
  const tokens: string[] = [];
  const tokenTypes: number[] = [];
  for (let i = 0; i < vocabSize; i++) {
    const t = byId.get(i);
    // Embedding rows beyond the tokenizer (e.g. Qwen pads to a multiple of 128) become unused placeholders.
    tokens.push(t ? t.text : `[PAD${i}]`);
    tokenTypes.push(t ? t.type : TokenType.UNUSED);
  }
  const merges = (model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));

  let pre = detectPreTokenizer(tj.pre_tokenizer);
  if (!pre) {
    pre = 'default';
    warnings.push('the tokenizer\'s pre-tokenizer is not one llama.cpp knows by name (qwen2, llama-bpe, smollm, gpt-2); wrote tokenizer.ggml.pre = "default", tokenization in llama.cpp may differ');
  }

  const idOf = (text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const added = tj.added_tokens?.find((a) => a.content === text);
    return added ? added.id : model.vocab![text];
  };
  const special = (kind: 'bos' | 'eos' | 'pad' | 'unk'): { id?: number; text?: string } => {
    const text = tokenText(config[`${kind}_token`]);
    let id = idOf(text);
    // SpecialVocab falls back to config.json's <kind>_token_id.
    if (id === undefined) id = firstId(modelConfig[`${kind}_token_id`]);
    return { id, text: id !== undefined ? byId.get(id)?.text : undefined };
  };
  const bos = special('bos'), eos = special('eos'), pad = special('pad'), unk = special('unk');
  const template = templateSpecials(tj.post_processor);
  const addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : bos.text !== undefined && template.first === bos.text;
  const addEos = typeof config.add_eos_token === 'boolean' ? config.add_eos_token : eos.text !== undefined && template.last === eos.text;
  return {
    vocab: {
      tokens, tokenTypes, merges, pre,
      bosId: bos.id, eosId: eos.id, padId: pad.id, unkId: unk.id,
      addBos, addEos, bosText: bos.text, eosText: eos.text,
    },
    warnings,
  };
}

/**
 * GPT-2's bytes_to_unicode: the printable character that stands for each byte in a byte-level BPE
 * vocabulary (printable Latin-1 bytes stand for themselves, the others for U+0100 onwards).
 */
export function byteLevelAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

/**
 * A vocabulary for a model with no tokenizer (bench's random weights): the 256 byte tokens, no merges,
 * every further id an unused placeholder as readGgufVocab pads. llama.cpp loads it (it tokenizes "\n"
 * while loading, hence the bytes) and runs token ids through it unchanged.
 */
export function byteLevelVocab(vocabSize: number): GgufVocab {
  if (vocabSize < 256) throw new Error(`a byte-level vocabulary needs at least 256 ids, the model has ${vocabSize}`);
  const bytes = byteLevelAlphabet();
  const tokens = Array.from({ length: vocabSize }, (_, i) => (i < 256 ? bytes[i] : `[PAD${i}]`));
  const tokenTypes = tokens.map((_, i) => (i < 256 ? TokenType.NORMAL : TokenType.UNUSED));
  return { tokens, tokenTypes, merges: [], pre: 'default', addBos: false, addEos: false };
}

/** The special tokens a TemplateProcessing post-processor puts around a single sequence (Llama 3 prepends bos). */
function templateSpecials(pp: PostProcessor | null | undefined): { first?: string; last?: string } {
  if (!pp) return {};
  const tp = pp.type === 'Sequence' ? pp.processors?.find((p) => p.type === 'TemplateProcessing') : pp.type === 'TemplateProcessing' ? pp : undefined;
  const single = tp?.single ?? [];
  const specialAt = (i: number): string | undefined => {
    const piece = single[i] as { SpecialToken?: { id: string } } | undefined;
    return piece?.SpecialToken?.id;
  };
  return { first: specialAt(0), last: specialAt(single.length - 1) };
}

/** The tokenizer.* metadata entries, in convert's order. */
export function vocabMetadata(vocab: GgufVocab, chatTemplate: string | undefined): [string, MetadataValue][] {
  const kv: [string, MetadataValue][] = [
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(vocab.pre)],
    ['tokenizer.ggml.tokens', strArray(vocab.tokens)],
    ['tokenizer.ggml.token_type', i32Array(vocab.tokenTypes)],
    ['tokenizer.ggml.merges', strArray(vocab.merges)],
  ];
  if (vocab.bosId !== undefined) kv.push(['tokenizer.ggml.bos_token_id', u32(vocab.bosId)]);
  if (vocab.eosId !== undefined) kv.push(['tokenizer.ggml.eos_token_id', u32(vocab.eosId)]);
  if (vocab.unkId !== undefined) kv.push(['tokenizer.ggml.unknown_token_id', u32(vocab.unkId)]);
  if (vocab.padId !== undefined) kv.push(['tokenizer.ggml.padding_token_id', u32(vocab.padId)]);
  kv.push(['tokenizer.ggml.add_bos_token', bool(vocab.addBos)]);
  kv.push(['tokenizer.ggml.add_eos_token', bool(vocab.addEos)]);
  if (chatTemplate !== undefined) kv.push(['tokenizer.chat_template', str(chatTemplate)]);
  return kv;
}
