import { describe, expect, it } from 'vitest';
import { DataError } from './errors.js';
import { parsePairsCsv } from './pairs-csv.js';

const HEADER = 'scale,lr,hr,hr_crop_height,hr_crop_width,lr_source';

describe('parsePairsCsv', () => {
  it('parses rows with their line numbers, CRLF, quotes and any column order', () => {
    const text = `\uFEFFlr_source,${'scale,lr,hr,hr_crop_height,hr_crop_width'}\r\nA,2,"x/a,b.png",HR/a.png,4,6\r\n\r\nB,3,x/c.png,HR/c.png,9,6\r\n`;
    expect(parsePairsCsv(text, 'p.csv')).toEqual([
      { scale: 2, lr: 'x/a,b.png', hr: 'HR/a.png', hrCropHeight: 4, hrCropWidth: 6, lrSource: 'A', line: 2 },
      { scale: 3, lr: 'x/c.png', hr: 'HR/c.png', hrCropHeight: 9, hrCropWidth: 6, lrSource: 'B', line: 4 },
    ]);
  });

  it('names the file and the missing column', () => {
    const text = 'scale,lr,hr,hr_crop_height,lr_source\n2,a.png,b.png,4,A\n';
    expect(() => parsePairsCsv(text, '/data/Set5/pairs.csv')).toThrow(DataError);
    expect(() => parsePairsCsv(text, '/data/Set5/pairs.csv')).toThrow(/^\/data\/Set5\/pairs\.csv: missing column hr_crop_width/);
    expect(() => parsePairsCsv('', 'empty.csv')).toThrow(/^empty\.csv: missing columns scale, lr, hr/);
  });

  it('names the file and line of a malformed row', () => {
    expect(() => parsePairsCsv(`${HEADER}\n2,a.png,b.png,4\n`, 'p.csv')).toThrow(/^p\.csv:2: expected 6 fields, found 4$/);
    expect(() => parsePairsCsv(`${HEADER}\n2,a.png,b.png,4,4,A\nx2,a.png,b.png,4,4,A\n`, 'p.csv')).toThrow(
      /^p\.csv:3: scale must be a positive integer, got "x2"$/,
    );
    expect(() => parsePairsCsv(`${HEADER}\n2,,b.png,4,4,A\n`, 'p.csv')).toThrow(/^p\.csv:2: lr is empty$/);
    expect(() => parsePairsCsv(`${HEADER}\n2,"a.png,b.png,4,4,A\n`, 'p.csv')).toThrow(/unterminated/);
  });

  it('rejects a row with more fields than the header', () => {
    expect(() => parsePairsCsv(`${HEADER}\n2,a.png,b.png,4,4,A,extra\n`, 'p.csv')).toThrow(/^p\.csv:2: expected 6 fields, found 7$/);
  });

  it.each(['../../../../etc/passwd', '/etc/passwd', 'HR/../../x.png', '..\\x.png', 'C:/x.png', '.', 'HR/..'])(
    'rejects an lr or hr path outside the set folder: %s',
    (path) => {
      expect(() => parsePairsCsv(`${HEADER}\n2,"${path}",HR/b.png,4,4,A\n`, 'p.csv')).toThrow(
        /^p\.csv:2: lr path ".*" must be relative and stay inside the set's folder$/,
      );
      expect(() => parsePairsCsv(`${HEADER}\n2,a.png,"${path}",4,4,A\n`, 'p.csv')).toThrow(/^p\.csv:2: hr path/);
    },
  );

  it('accepts relative paths that stay inside, ./ and inner .. included', () => {
    const rows = parsePairsCsv(`${HEADER}\n2,./LR/../LR/a.png,HR/b.png,4,4,A\n`, 'p.csv');
    expect(rows[0]!.lr).toBe('./LR/../LR/a.png');
  });
});
