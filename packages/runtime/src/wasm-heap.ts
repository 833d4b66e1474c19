const PAGE = 65536;
const ALIGN = 16;

/**
 * A first-fit allocator over a WebAssembly memory, kept on the JS side so the kernels stay free of
 * any runtime. Freed blocks are merged with their neighbours; the memory grows when nothing fits.
 * Typed-array views of memory.buffer are invalidated by growth: take them after allocating.
 */
export class WasmHeap {
  /** Free blocks, sorted by address. */
  private readonly free: { at: number; size: number }[] = [];
  private readonly sizes = new Map<number, number>();
  private top: number;
  private live = 0;
  /** The most bytes allocated at once since the heap was made or `resetPeak` was called. */
  peak = 0;

  /**
   * `limit`: the most bytes the heap may span (default 2 GiB); an allocation past it fails before
   * the memory grows.
   */
  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
    readonly limit = 2 ** 31,
  ) {
    this.top = align(base);
  }

  alloc(bytes: number): number {
    const size = align(Math.max(bytes, 1));
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i]!;
      if (block.size < size) continue;
      const at = block.at;
      if (block.size === size) this.free.splice(i, 1);
      else {
        block.at += size;
        block.size -= size;
      }
      this.taken(at, size);
      return at;
    }
    const at = this.top;
    const end = at + size;
    if (end > 2 ** 32) throw new RangeError(`wasm heap: ${bytes} more bytes would pass the 4 GiB limit of 32-bit WebAssembly memory`);
    if (end > this.limit) throw new RangeError(`wasm heap: ${bytes} more bytes would pass the heap's limit of ${(this.limit / 2 ** 30).toFixed(1)} GiB`);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    this.top = end;
    this.taken(at, size);
    return at;
  }

  private taken(at: number, size: number): void {
    this.sizes.set(at, size);
    this.live += size;
    if (this.live > this.peak) this.peak = this.live;
  }

  resetPeak(): void {
    this.peak = this.live;
  }

  release(at: number): void {
    const size = this.sizes.get(at);
    if (size === undefined) throw new Error(`wasm heap: ${at} is not an allocated block`);
    this.sizes.delete(at);
    this.live -= size;
    let i = 0;
    while (i < this.free.length && this.free[i]!.at < at) i++;
    this.free.splice(i, 0, { at, size });
    // Merge with the next block, then with the previous one.
    const next = this.free[i + 1];
    if (next && at + size === next.at) {
      this.free[i]!.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.at + prev.size === at) {
      prev.size += this.free[i]!.size;
      this.free.splice(i, 1);
    }
    // A free block at the top returns to the unallocated space.
    const last = this.free[this.free.length - 1];
    if (last && last.at + last.size === this.top) {
      this.top = last.at;
      this.free.pop();
    }
  }

  /** Bytes currently allocated. */
  get allocated(): number {
    return this.live;
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
