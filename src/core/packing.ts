// Continued pre-training data: documents (the `text` records of JSONL files, whole .txt / .md files)
// tokenized, each followed by eos, concatenated and cut into fixed-length blocks with labels = ids.
// Packing wastes no compute on padding and lets short documents share a block, as in Hugging Face's
// run_clm `group_texts`. Unlike group_texts the final short block is kept by default, so a small
// corpus still yields something to train on.

import * as fs from 'fs';
import * as path from 'path';
import type { Tokenizer } from './tokenizer';
import { TokenizerBudgetError } from './tokenizerSandbox';
import { DataFileError, checkFields, readRecords, type Problem } from './formats';
import { requireEos, type ExampleSet, type TokenizedExample } from './examples';

export interface PackOptions {
  /** tokens per block (the training max length). */
  blockSize: number;
  fields?: Readonly<Record<string, string>>;
  /** drop the final, shorter block (group_texts behaviour). */
  dropLast?: boolean;
}

const PLAIN_TEXT_EXTENSIONS = new Set(['.txt', '.md', '.markdown']);

export function isPlainTextFile(file: string): boolean {
  return PLAIN_TEXT_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/**
 * Packs one or more files. JSONL files must hold `text` records (`--field text=COLUMN` maps another
 * column); every bad line of every file is reported before any tokenization.
 */
export async function packTextBlocks(files: string | readonly string[], tokenizer: Tokenizer, options: PackOptions): Promise<ExampleSet> {
  if (!Number.isInteger(options.blockSize) || options.blockSize < 2) throw new Error(`block size must be an integer >= 2, got ${options.blockSize}`);
  const fields = checkFields(options.fields);
  const eos = requireEos(tokenizer);
  const sources: { file: string; documents: TextPiece[] }[] = [];
  const problems: Problem[] = [];
  let rows = 0;
  for (const file of typeof files === 'string' ? [files] : files) {
    try {
      if (isPlainTextFile(file)) {
        sources.push({ file, documents: splitPlainText(readPlainText(file)) });
        rows += 1;
      } else {
        const read = await readRecords(file, { format: 'text', fields });
        rows += read.rows;
        sources.push({ file, documents: read.records.map((r) => ({ line: r.line, text: r.record.kind === 'text' ? r.record.text : '' })) });
      }
    } catch (err) {
      if (!(err instanceof DataFileError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length) throw new DataFileError(problems);

  const packer = new BlockPacker(options.blockSize, eos);
  for (const source of sources) {
    for (const document of source.documents) {
      let ids: number[];
      try {
        ids = tokenizer.encode(document.text);
      } catch (err) {
        // A tokenizer over its time budget (tokenizerSandbox.ts) is reported at the document's line.
        if (err instanceof TokenizerBudgetError) throw new DataFileError([{ file: source.file, line: document.line, reason: err.message }]);
        throw err;
      }
      packer.addPiece(ids, document.line, document.last ?? true);
    }
  }
  return { format: 'text', examples: packer.finish(options.dropLast ?? false), skipped_too_long: 0, rows };
}

/**
 * Accumulates token streams into blocks. A document may arrive in pieces (long plain-text files are
 * tokenized in chunks); eos is appended after a document's last piece.
 */
export class BlockPacker {
  private readonly blocks: TokenizedExample[] = [];
  private current: number[] = [];
  private currentLine = 0;

  constructor(private readonly blockSize: number, private readonly eos: number) {}

  addDocument(ids: readonly number[], line: number): void {
    this.addPiece(ids, line, true);
  }

  addPiece(ids: readonly number[], line: number, endsDocument: boolean): void {
    for (const id of ids) this.addToken(id, line);
    if (endsDocument) this.addToken(this.eos, line);
  }

  finish(dropLast: boolean): TokenizedExample[] {
    if (this.current.length > 0 && !dropLast) this.flush();
    this.current = [];
    return this.blocks;
  }

  private addToken(id: number, line: number): void {
    if (this.current.length === 0) this.currentLine = line;
    this.current.push(id);
    if (this.current.length === this.blockSize) this.flush();
  }

  private flush(): void {
    this.blocks.push({ input_ids: this.current, labels: [...this.current], line: this.currentLine });
    this.current = [];
  }
}

function readPlainText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new DataFileError([{ file, line: 0, reason: `cannot read the file: ${(err as Error).message}` }]);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataFileError([{ file, line: 0, reason: 'invalid UTF-8 (is this a text file?)' }]);
  }
  // CRLF would otherwise teach the model to emit '\r'.
  return text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
}

export interface TextPiece { line: number; text: string; last?: boolean }

/** Target size of a plain-text piece: tokenizing a 100 MB string in one call is slow and memory-hungry. */
export const PIECE_CHARS = 16 * 1024;

/**
 * Cuts one document into pieces at a newline followed by a non-space character, a point where the
 * usual BPE pre-tokenizers split anyway, so the pieces' tokens equal the whole text's tokens.
 */
export function splitPlainText(text: string, pieceChars = PIECE_CHARS): TextPiece[] {
  const pieces: TextPiece[] = [];
  let start = 0;
  let line = 1;
  while (start < text.length) {
    let end = text.length;
    if (text.length - start > pieceChars) {
      const cut = /\n(?=\S)/g;
      cut.lastIndex = start + pieceChars;
      const found = cut.exec(text);
      if (found) end = found.index + 1;
    }
    const piece = text.slice(start, end);
    pieces.push({ line, text: piece, last: end === text.length });
    line += countNewlines(piece);
    start = end;
  }
  return pieces;
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
