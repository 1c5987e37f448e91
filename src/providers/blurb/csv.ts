/**
 * CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF, a BOM) into rows of named fields, for
 * the catalog case (`artist,title,audio,artwork` with `--template`). Header names are matched
 * case-insensitively; each row keeps its line number for messages.
 */

export interface CsvRow {
  /** 1-based line where the row starts. */
  line: number;
  fields: Record<string, string>;
}

/** Splits CSV text into records of raw cells, each with the line it starts on. */
function records(text: string): { line: number; cells: string[] }[] {
  const out: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let any = false;
  const endRecord = () => {
    cells.push(cell);
    if (any || cells.length > 1 || cell !== '') out.push({ line: start, cells });
    cells = [];
    cell = '';
    any = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"') {
      quoted = true;
      any = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
      any = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else cell += ch;
  }
  if (quoted) throw new Error(`a quoted field that starts on line ${start} is never closed`);
  if (cell !== '' || cells.length) endRecord();
  return out;
}

/** Rows keyed by lower-cased header names. Throws an Error (with its line) when the text is not CSV. */
export function parseCsv(text: string): { header: string[]; rows: CsvRow[] } {
  const recs = records(text.replace(/^\uFEFF/, ''));
  const head = recs.shift();
  if (!head) throw new Error('the file is empty');
  const header = head.cells.map((h) => h.trim().toLowerCase());
  const rows = recs.map(({ line, cells }) => {
    if (cells.length > header.length) throw new Error(`line ${line} has ${cells.length} fields, the header ${header.length}`);
    return { line, fields: Object.fromEntries(header.map((h, i) => [h, (cells[i] ?? '').trim()])) };
  });
  return { header, rows };
}
