import type { Rect } from './plan.js';

/** The plain-data contract between the engine and its pools of kernel instances (worker threads, web workers). */

/** A tensor shared with the workers: its description and its (shared) memory. */
export interface SharedStore {
  readonly name: string;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly dtype: 'uint8' | 'float32';
  readonly buffer: ArrayBufferLike;
}

/**
 * The rows of a tensor whose σ a pass sums, in bands of `rows` rows: band j lies in
 * buffers[j % buffers.length], the next band in the next buffer.
 */
export interface SharedBands {
  readonly name: string;
  readonly rows: number;
  readonly w: number;
  readonly c: number;
  readonly dtype: 'uint8' | 'float32';
  readonly buffers: readonly ArrayBufferLike[];
}

/** What a worker needs to run a pass: the plain-data form of RunContext. */
export interface PassContext {
  readonly sizes: [string, { h: number; w: number }][];
  readonly stores: SharedStore[];
  readonly bands?: SharedBands[];
  readonly factors: [number, number][];
  readonly output: ArrayBufferLike;
}

/** Runs the tiles of a pass on several kernel instances. */
export interface TilePool {
  readonly size: number;
  /**
   * Runs the tiles, in order of their start; `gate`, if it gives a promise for a tile, holds the
   * tile until it resolves. onTile gets the index of each tile done.
   */
  runPass(
    pass: number,
    tiles: readonly (Rect | undefined)[],
    ctx: PassContext,
    onTile: (index: number) => void,
    signal?: AbortSignal,
    gate?: (index: number) => Promise<void> | undefined,
  ): Promise<void>;
  close(): Promise<void>;
}
