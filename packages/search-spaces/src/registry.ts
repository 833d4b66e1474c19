import basicJson from './spaces/basic.json' with { type: 'json' };
import rfdnJson from './spaces/rfdn.json' with { type: 'json' };
import rfdnBicubicJson from './spaces/rfdn-bicubic.json' with { type: 'json' };
import fsrcnnJson from './spaces/fsrcnn.json' with { type: 'json' };
import espcnJson from './spaces/espcn.json' with { type: 'json' };
import type { SearchSpaceSpec } from './spec.js';
import { validateSpec } from './validate-spec.js';

/**
 * The spaces shipped with the package: docs/method.md §6.1 and §6.2, rfdn with a bicubic-initialised
 * global skip, and two fixed architectures (one op per block: searching them chooses bits only).
 */
export const SPACE_IDS = ['rfdn', 'basic', 'rfdn-bicubic', 'fsrcnn', 'espcn'] as const;
export type SpaceId = (typeof SPACE_IDS)[number];

const DOCUMENTS: Readonly<Record<SpaceId, unknown>> = {
  rfdn: rfdnJson,
  basic: basicJson,
  'rfdn-bicubic': rfdnBicubicJson,
  fsrcnn: fsrcnnJson,
  espcn: espcnJson,
};
const cache = new Map<SpaceId, SearchSpaceSpec>();

export function isSpaceId(value: string): value is SpaceId {
  return (SPACE_IDS as readonly string[]).includes(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A shipped space, validated on first use and frozen (callers share one copy). */
export function getSpace(id: SpaceId | string): SearchSpaceSpec {
  if (!isSpaceId(id)) throw new Error(`unknown search space '${id}' (shipped: ${SPACE_IDS.join(', ')}; or pass a JSON file)`);
  let spec = cache.get(id);
  if (!spec) {
    spec = deepFreeze(validateSpec(structuredClone(DOCUMENTS[id]), `${id}.json`));
    cache.set(id, spec);
  }
  return spec;
}

/**
 * A shipped space by id, or a user's JSON document by file path (Node only). Errors name the
 * file and the JSON path of the problem.
 */
export async function loadSpec(pathOrId: string): Promise<SearchSpaceSpec> {
  if (isSpaceId(pathOrId)) return getSpace(pathOrId);
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(pathOrId, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `search space '${pathOrId}': no such file, and not a shipped space (${SPACE_IDS.join(', ')})`
        : `search space '${pathOrId}': cannot read it (${(error as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${pathOrId}: not valid JSON (${(error as Error).message})`);
  }
  return validateSpec(json, pathOrId);
}
