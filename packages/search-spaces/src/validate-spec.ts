import { resolveSpace } from './resolve-space.js';
import type { SearchSpaceSpec } from './spec.js';
import { jsonPath, SpecError } from './spec-error.js';
import { searchSpaceSchema } from './spec-schema.js';
import { findProtoKey } from './limits.js';

/**
 * Validates parsed JSON as a search-space document: its structure against the schema, then its
 * semantics (references, channels, groups) by resolving it at its own defaults. Throws a
 * `SpecError` naming the JSON path of the first problem; `source` (a file name) prefixes it.
 */
export function validateSpec(json: unknown, source?: string): SearchSpaceSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SpecError('$', 'must be a JSON object', source);
  const proto = findProtoKey(json);
  if (proto !== undefined) throw new SpecError(proto, "the key '__proto__' is not allowed", source);
  const parsed = searchSpaceSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SpecError(jsonPath(issue.path), issue.message, source);
  }
  resolveSpace(parsed.data, {}, source);
  return parsed.data;
}
