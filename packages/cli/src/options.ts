import { statSync } from 'node:fs';
import { UsageError } from './io.js';

/** Plain decimal digits only: no sign, spaces, exponent (1e1), hex (0x4) or fraction. */
const DECIMAL = /^\d+$/;

/** Parses an integer SR scale factor (2, 3, 4, ...), written in plain decimal digits. */
export function parseScale(value: string): number {
  const scale = Number(value);
  if (!DECIMAL.test(value) || !Number.isInteger(scale) || scale < 1 || scale > 16) {
    throw new UsageError(`--scale must be an integer from 1 to 16, got '${value}'`);
  }
  return scale;
}

/** Parses a comma-separated list of set names, keeping their order and dropping repeats. */
export function parseSetList(value: string): string[] {
  const names = [
    ...new Set(
      value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    ),
  ];
  if (names.length === 0) throw new UsageError(`--sets needs at least one set name, got '${value}'`);
  return names;
}

/** Parses an integer option from `min` (to `max`, when given), written in plain decimal digits. */
export function parseInteger(value: string, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!DECIMAL.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${option} must be an integer ${range}, got '${value}'`);
  }
  return n;
}

/** `parseInteger` for an option without a default. */
export function parseOptionalInteger(value: string | undefined, option: string, min: number): number | undefined {
  return value === undefined ? undefined : parseInteger(value, option, min);
}

/** An optional number ≥ 0 (penalties, weights, rates), or a usage error naming the option. */
export function parseOptionalNumber(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${option} must be a number ≥ 0, got '${value}'`);
  return n;
}

/** Runs another package's parser (backend names, ...), reporting its error as a usage error of `option`. */
export function parseWith<T>(parse: (value: string) => T, value: string, option: string): T {
  try {
    return parse(value);
  } catch (error) {
    throw new UsageError(`${option}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The engines an exported model (.qnas) runs on (eval, upscale): int8, the runtime's WASM integer
 * engine; tfjs, the model simulated in float32 on tfjs-wasm (fake-quant); scalar, the runtime's
 * plain-loop specification, the reference the int8 engine is checked against.
 */
export const EXPORTED_ENGINES = ['int8', 'tfjs', 'scalar'] as const;
export type ExportedEngine = (typeof EXPORTED_ENGINES)[number];

/** Checks an --engine value: one line naming the choices. */
export function parseExportedEngine(value: string): ExportedEngine {
  // `reference` named the tfjs engine before; the runtime's reference is the scalar engine.
  if (value === 'reference')
    throw new UsageError("--engine reference is now called tfjs (the model simulated in float32 on tfjs-wasm); scalar is the runtime's reference");
  if (!(EXPORTED_ENGINES as readonly string[]).includes(value)) {
    throw new UsageError(`--engine must be int8, tfjs or scalar, got '${value}'`);
  }
  return value as ExportedEngine;
}

/** `--kernels`: fused or reference. */
export function parseKernels(value: string): 'fused' | 'reference' {
  if (value !== 'fused' && value !== 'reference') throw new UsageError(`--kernels must be fused or reference, got '${value}'`);
  return value;
}

/** An --out directory: absent (it is created) or a directory; anything else is one clear line. */
export function checkOutDirectory(path: string, option = '--out'): void {
  let st;
  try {
    st = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new UsageError(`${option} ${path}: a parent of it is not a directory`);
    throw new UsageError(`${option} ${path}: cannot use it: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!st.isDirectory()) throw new UsageError(`${option} ${path}: exists and is not a directory`);
}
