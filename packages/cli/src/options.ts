import { UsageError } from './io.js';

/** Parses an integer SR scale factor (2, 3, 4, ...). */
export function parseScale(value: string): number {
  const scale = Number(value);
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) {
    throw new UsageError(`--scale must be an integer from 1 to 16, got '${value}'`);
  }
  return scale;
}

/** Parses a comma-separated list of set names, keeping their order and dropping repeats. */
export function parseSetList(value: string): string[] {
  const names = [...new Set(value.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
  if (names.length === 0) throw new UsageError(`--sets needs at least one set name, got '${value}'`);
  return names;
}
