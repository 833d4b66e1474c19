import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SessionOptions } from '@quantnas/runtime';

/**
 * Where the runtime's compiled kernels and worker script are. A build finds them next to its own
 * modules; when the runtime runs from its TypeScript sources (tests, development) they are only in
 * its dist folder, so point there whenever that folder has them.
 */
export function runtimeFiles(): Pick<SessionOptions, 'kernels' | 'workerUrl'> {
  try {
    const dist = join(dirname(createRequire(import.meta.url).resolve('@quantnas/runtime/package.json')), 'dist');
    if (!existsSync(join(dist, 'kernels.wasm'))) return {};
    return {
      kernels: { source: pathToFileURL(join(dist, 'kernels.wasm')), relaxedSource: pathToFileURL(join(dist, 'kernels-relaxed.wasm')) },
      ...(existsSync(join(dist, 'engine-worker.js')) ? { workerUrl: pathToFileURL(join(dist, 'engine-worker.js')) } : {}),
    };
  } catch {
    return {};
  }
}
