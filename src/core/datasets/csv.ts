// RFC 4180 CSV: fields separated by a delimiter, optionally double-quoted; inside quotes a
// doubled quote is a literal quote and delimiters / newlines are data. CRLF, LF and CR line
// ends are accepted and a leading UTF-8 BOM is dropped (Excel writes one).

import type { DatasetRecord } from './jsonl';

export function parseCsv(text: string, delimiter = ','): string[][] {
  const src = text.startsWith('\ufeff') ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let quotedFieldStartLine = 0;
  let line = 1;
  let i = 0;
  const endField = (): void => {
    row.push(field);
    field = '';
  };
  const endRow = (): void => {
    endField();
    // A blank line is not a record.
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  while (i < src.length) {
    const ch = src[i];
    if (inQuotes) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
        i++;
        continue;
      }
      if (ch === '\n') line++;
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field.length === 0) {
      inQuotes = true;
      quotedFieldStartLine = line;
      i++;
    } else if (ch === delimiter) {
      endField();
      i++;
    } else if (ch === '\r' || ch === '\n') {
      endRow();
      line++;
      i += ch === '\r' && src[i + 1] === '\n' ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (inQuotes) throw new Error(`CSV: unterminated quoted field starting on line ${quotedFieldStartLine}`);
  if (field.length > 0 || row.length > 0) endRow();
  return rows;
}

/** Rows → records keyed by the header row. A row with more fields than the header is an error. */
export function csvToRecords(text: string, delimiter = ','): DatasetRecord[] {
  const rows = parseCsv(text, delimiter);
  if (rows.length === 0) return [];
  const header = rows[0].map((h) => h.trim());
  return rows.slice(1).map((row, i) => {
    if (row.length > header.length) {
      throw new Error(`CSV: record ${i + 1} has ${row.length} fields but the header has ${header.length}`);
    }
    const record: DatasetRecord = {};
    header.forEach((name, j) => (record[name] = row[j] ?? ''));
    return record;
  });
}
