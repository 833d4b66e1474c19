import { DataError } from './errors.js';

/** One row of a set's `pairs.csv`; paths are relative to the set's folder. */
export interface PairRow {
  scale: number;
  lr: string;
  hr: string;
  hrCropHeight: number;
  hrCropWidth: number;
  lrSource: string;
  /** 1-based line in the file, for error messages. */
  line: number;
}

export const PAIRS_CSV_COLUMNS = ['scale', 'lr', 'hr', 'hr_crop_height', 'hr_crop_width', 'lr_source'] as const;

/**
 * Parses a `pairs.csv` (header row, comma-separated, optional double quotes, LF or CRLF). Columns
 * may come in any order and extra columns are ignored; every row has exactly the header's fields.
 * The `lr` and `hr` paths are relative and stay inside the set's folder (no absolute path, no `..`
 * climbing out). A missing column or a malformed row is a DataError naming `file` and the line.
 */
export function parsePairsCsv(text: string, file: string): PairRow[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '', file, 1).map((h) => h.trim());
  const missing = PAIRS_CSV_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new DataError(
      `${file}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(header is "${lines[0] ?? ''}"; expected ${PAIRS_CSV_COLUMNS.join(',')})`,
      file,
    );
  }
  const col = Object.fromEntries(PAIRS_CSV_COLUMNS.map((c) => [c, header.indexOf(c)])) as Record<(typeof PAIRS_CSV_COLUMNS)[number], number>;
  const rows: PairRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    if (lines[i].trim() === '') continue;
    const fields = splitCsvLine(lines[i], file, lineNo);
    if (fields.length !== header.length) {
      throw new DataError(`${file}:${lineNo}: expected ${header.length} fields, found ${fields.length}`, file);
    }
    const int = (name: (typeof PAIRS_CSV_COLUMNS)[number]): number => {
      const raw = fields[col[name]].trim();
      const v = Number(raw);
      if (raw === '' || !Number.isInteger(v) || v < 1) {
        throw new DataError(`${file}:${lineNo}: ${name} must be a positive integer, got "${raw}"`, file);
      }
      return v;
    };
    const str = (name: (typeof PAIRS_CSV_COLUMNS)[number]): string => {
      const v = fields[col[name]].trim();
      if (v === '') throw new DataError(`${file}:${lineNo}: ${name} is empty`, file);
      return v;
    };
    const inside = (name: 'lr' | 'hr'): string => {
      const v = str(name);
      if (!isInsideSetFolder(v)) {
        throw new DataError(`${file}:${lineNo}: ${name} path "${v}" must be relative and stay inside the set's folder`, file);
      }
      return v;
    };
    rows.push({
      scale: int('scale'),
      lr: inside('lr'),
      hr: inside('hr'),
      hrCropHeight: int('hr_crop_height'),
      hrCropWidth: int('hr_crop_width'),
      lrSource: str('lr_source'),
      line: lineNo,
    });
  }
  return rows;
}

/** A relative path (either separator) that never climbs above its base folder. */
function isInsideSetFolder(path: string): boolean {
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path) || path.includes('\0')) return false;
  let depth = 0;
  for (const part of path.split(/[\\/]+/)) {
    if (part === '..') depth--;
    else if (part !== '.' && part !== '') depth++;
    if (depth < 0) return false;
  }
  return depth > 0;
}

function splitCsvLine(line: string, file: string, lineNo: number): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      out.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  if (quoted) throw new DataError(`${file}:${lineNo}: unterminated quoted field`, file);
  out.push(field);
  return out;
}
