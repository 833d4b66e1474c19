import { describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { initBackend } from './select.js';
import type { ResolvedBackend } from '../backend.js';

// The wasm Slice, SplitV and Tile that core-ops registers against the cpu backend's, bit for bit.

/** A small deterministic generator: the same cases on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

interface Case {
  readonly shape: number[];
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly op: (x: tf.Tensor) => tf.Tensor | tf.Tensor[];
  readonly what: string;
}

function cases(): Case[] {
  const r = rng(7);
  const out: Case[] = [];
  const dtypes = ['float32', 'int32', 'bool'] as const;
  for (let k = 0; k < 40; k++) {
    const rank = int(r, 1, 5);
    const shape = Array.from({ length: rank }, () => int(r, 1, 6));
    const begin = shape.map((n) => int(r, 0, n - 1));
    const size = shape.map((n, i) => (r() < 0.3 ? -1 : int(r, 0, n - begin[i]!)));
    out.push({ shape, dtype: dtypes[k % 3]!, op: (x) => tf.slice(x, begin, size), what: `slice ${JSON.stringify({ shape, begin, size })}` });
  }
  for (let k = 0; k < 20; k++) {
    const rank = int(r, 1, 4);
    const shape = Array.from({ length: rank }, () => int(r, 1, 7));
    const axis = int(r, 0, rank - 1);
    const first = int(r, 0, shape[axis]!);
    const splits = [first, shape[axis]! - first];
    out.push({ shape, dtype: dtypes[k % 3]!, op: (x) => tf.split(x, splits, axis), what: `split ${JSON.stringify({ shape, splits, axis })}` });
  }
  for (let k = 0; k < 30; k++) {
    const rank = int(r, 1, 5);
    const shape = Array.from({ length: rank }, () => int(r, 1, 5));
    const reps = shape.map(() => int(r, 1, 3));
    out.push({ shape, dtype: dtypes[k % 3]!, op: (x) => tf.tile(x, reps), what: `tile ${JSON.stringify({ shape, reps })}` });
  }
  // The shapes of the networks: rfdn's channel split and input expansion, runs long enough for `set`.
  out.push(
    { shape: [2, 5, 6, 24], dtype: 'float32', op: (x) => tf.split(x, [6, 6, 6, 6], 3), what: 'split channels 24 → 4 × 6' },
    { shape: [2, 5, 6, 3], dtype: 'float32', op: (x) => tf.tile(x, [1, 1, 1, 4]), what: 'tile channels 3 → 12' },
    { shape: [3, 40, 50], dtype: 'float32', op: (x) => tf.slice(x, [1, 3, 0], [2, 30, 50]), what: 'slice rows of 50' },
    { shape: [64, 33], dtype: 'float32', op: (x) => tf.tile(x, [2, 3]), what: 'tile rows of 33' },
  );
  return out;
}

function input(c: Case, seed: number): tf.Tensor {
  const r = rng(seed);
  const n = c.shape.reduce((a, b) => a * b, 1);
  if (c.dtype === 'bool')
    return tf.tensor(
      Array.from({ length: n }, () => r() < 0.5),
      c.shape,
      'bool',
    );
  if (c.dtype === 'int32')
    return tf.tensor(
      Array.from({ length: n }, () => int(r, -1000, 1000)),
      c.shape,
      'int32',
    );
  return tf.tensor(
    Float32Array.from({ length: n }, () => r() * 2 - 1),
    c.shape,
    'float32',
  );
}

async function run(backend: ResolvedBackend, c: Case, seed: number): Promise<{ shape: number[]; values: number[] }[]> {
  await initBackend(backend);
  const x = input(c, seed);
  const y = c.op(x);
  const outs = Array.isArray(y) ? y : [y];
  const result = await Promise.all(outs.map(async (t) => ({ shape: t.shape, values: Array.from(await t.data()) })));
  tf.dispose([x, ...outs]);
  return result;
}

describe('wasm copy kernels match the cpu backend bit for bit', () => {
  const all = cases();
  it.each(all.map((c, i) => [c.what, c, i] as const))('%s', async (_, c, i) => {
    const want = await run('cpu', c, i + 1);
    const got = await run('wasm', c, i + 1);
    expect(got).toEqual(want);
  });

  it('leave no buffer behind', async () => {
    await initBackend('wasm');
    const buffers = tf.engine().backend.numDataIds();
    for (const [i, c] of all.entries()) await run('wasm', c, i + 1);
    await initBackend('wasm');
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });

  it("hand string tensors to the wasm backend's own kernels (tfjs splits no strings), and refuse to tile them clearly", async () => {
    await initBackend('wasm');
    const s = tf.tensor(['a', 'b', 'c', 'd', 'e', 'f'], [2, 3], 'string');
    const parts = [tf.slice(s, [0, 1], [2, 2])];
    expect(await Promise.all(parts.map((p) => p.array()))).toEqual([
      [
        ['b', 'c'],
        ['e', 'f'],
      ],
    ]);
    // The backend's own Tile aborted its wasm module on strings; this one says so.
    expect(() => tf.tile(s, [1, 2])).toThrow(/Tile of a string tensor is not supported on the wasm backend/);
    tf.dispose([s, ...parts]);
  });
});
