// Images
export type { ImageU8, ImageF32 } from './image.js';
export { createImage } from './image.js';
export { DataError } from './errors.js';
export { crop, modcrop } from './crop.js';
export { toRgb } from './channels.js';
export { flipHorizontal, flipVertical, transpose, rot90 } from './dihedral.js';
export { imageToF32, f32ToImage } from './float.js';

// Image files
export { decodePng, encodePng } from './png.js';
export { decodeJpeg } from './jpeg.js';
export type { ImageFormat, ImageInfo } from './decode-image.js';
export { decodeImage, decodeImageInfo, sniffImageFormat } from './decode-image.js';
export { readImage, readImageInfo, writePng } from './image-file.js';
export type { OutputOptions } from './output-file.js';
export { checkOutputPath, writeOutputFile } from './output-file.js';
export { writeFileAtomic, writeFileAtomicSync } from './atomic-write.js';
export { MAX_IMAGE_PIXELS } from './image-limits.js';

// MATLAB-exact bicubic
export type { ResizeTarget, Contributions } from './imresize.js';
export { imresize, bicubicUpscale, bicubicDownscale, contributions, cubic } from './imresize.js';

// Data root, caches and sets
export type { Env, DataRootOptions, DataRootCandidate } from './data-root.js';
export { resolveDataRoot, dataRootCandidates, findRepoRoot, userDataRoot, requireSets, FETCH_COMMAND } from './data-root.js';
export { resolveCacheDir } from './cache-dir.js';
export type { LrCacheKey } from './lr-cache.js';
export { lrCachePath, cachedBicubicLr } from './lr-cache.js';
export type { PairRow } from './pairs-csv.js';
export { parsePairsCsv, PAIRS_CSV_COLUMNS } from './pairs-csv.js';
export { listSets, listHrFiles } from './set-folders.js';
export type { PairInfo, LoadedPair, BenchmarkSet, OpenSetOptions } from './datasets.js';
export { openSet, GENERATED_LR_SOURCE } from './datasets.js';

// Training data
export type { Rng } from './rng.js';
export { createRng } from './rng.js';
export type { TrainingImage } from './training-images.js';
export { listTrainingImages } from './training-images.js';
export { splitImages } from './splits.js';
export type { CacheStats } from './lru-cache.js';
export { ByteLruCache } from './lru-cache.js';
export type { AugmentOptions, LoadLr, PatchBatch, PatchSampler, PatchSamplerOptions, PatchTransform, SkippedImage } from './patches.js';
export { createPatchSampler, DEFAULT_PATCH_CACHE_BYTES } from './patches.js';

// Downloading the SR sets
export type { FetchEvent, FetchFile, FetchManifest, FetchOptions, FetchResult, FetchSetName } from './fetch/fetch-sets.js';
export { fetchSets, FETCH_SETS, FETCH_MANIFEST, DEFAULT_FETCH_BASE_URL } from './fetch/fetch-sets.js';
export { decodeBmp, encodeBmp } from './fetch/bmp.js';
export { sha256Pixels } from './fetch/pixels-hash.js';
