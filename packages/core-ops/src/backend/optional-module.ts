// Loading packages the user may or may not have installed (webgpu, tfjs-node). Node-only modules are
// imported lazily so that core-ops still loads in a browser.

export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
  constructor(
    readonly backend: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * The file a bare specifier resolves to, looked up from core-ops itself and then from the working
 * directory (a package installed in the user's project); null when it is not installed.
 */
export async function resolveOptional(specifier: string): Promise<string | null> {
  if (!isNode()) return null;
  const { createRequire } = await import('node:module');
  const { join } = await import('node:path');
  for (const base of [import.meta.url, join(process.cwd(), 'noop.js')]) {
    try {
      return createRequire(base).resolve(specifier);
    } catch {
      // Try the next base.
    }
  }
  return null;
}

/** Imports a resolved file (CommonJS or ESM) by its URL. */
export async function importFile(path: string): Promise<unknown> {
  const { pathToFileURL } = await import('node:url');
  return import(pathToFileURL(path).href);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
