import { describe, expect, it } from 'vitest';
import { WasmHeap } from './wasm-heap.js';

describe('WasmHeap', () => {
  it('aligns blocks, reuses freed space and merges neighbours', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 5);
    const a = heap.alloc(10);
    const b = heap.alloc(100);
    const c = heap.alloc(20);
    expect([a, b, c].map((p) => p % 16)).toEqual([0, 0, 0]);
    expect(a).toBe(16);
    heap.release(a);
    heap.release(b);
    // a and b merged: 112 + 16 bytes fit where they were.
    expect(heap.alloc(120)).toBe(a);
    expect(heap.allocated).toBe(128 + 32);
    expect(() => heap.release(12345)).toThrow('not an allocated block');
  });

  it('keeps the most bytes allocated at once, from a reset on', () => {
    const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 0);
    const a = heap.alloc(100);
    const b = heap.alloc(20);
    heap.release(a);
    heap.alloc(30);
    expect(heap.peak).toBe(112 + 32);
    heap.resetPeak();
    expect(heap.peak).toBe(heap.allocated);
    heap.release(b);
    heap.alloc(200);
    expect(heap.peak).toBe(32 + 208);
  });

  it('grows the memory when nothing fits and gives the top back', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new WasmHeap(memory, 0);
    const big = heap.alloc(200_000);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(200_000);
    heap.bytes()[big + 199_999] = 7;
    heap.release(big);
    expect(heap.alloc(16)).toBe(0);
  });
});

describe('WasmHeap limit', () => {
  it('refuses an allocation past its limit before growing the memory', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new WasmHeap(memory, 0, 1 << 20);
    expect(() => heap.alloc(2 << 20)).toThrow(/^wasm heap: 2097152 more bytes would pass the heap's limit of 0\.0 GiB$/);
    expect(memory.buffer.byteLength).toBe(65536);
  });
});
