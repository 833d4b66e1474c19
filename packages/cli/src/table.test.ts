import { describe, expect, it } from 'vitest';
import { renderTable } from './table.js';

describe('renderTable', () => {
  it('left-aligns the first column and the text columns, right-aligns the rest', () => {
    const rows = [
      ['SplitV', 'split', '1.04'],
      ['Tile', 'whole rows', '10.51'],
    ];
    expect(renderTable(['kernel', 'ours', 'ms'], rows)).toBe(
      ['kernel        ours     ms', '------  ----------  -----', 'SplitV       split   1.04', 'Tile    whole rows  10.51', ''].join('\n'),
    );
    expect(renderTable(['kernel', 'ours', 'ms'], rows, [1])).toBe(
      ['kernel  ours           ms', '------  ----------  -----', 'SplitV  split        1.04', 'Tile    whole rows  10.51', ''].join('\n'),
    );
  });
});
