// The plain SIMD128 kernel module (dist/kernels.wasm).
export { TILE_SCRATCH_BYTES, padWidenI16, padU8, convI16, convI16Rgb, maxU8, pairTaps } from './conv';
export * from './layers';

/** Where the caller may start allocating: everything below belongs to the module's static data. */
export function heapBase(): usize {
  return (__heap_base + 15) & ~15;
}
