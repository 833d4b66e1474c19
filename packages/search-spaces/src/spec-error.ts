/** A search-space document that does not validate; `path` is the JSON path of the problem. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ''}search space ${path}: ${problem}`);
  }
}

/** `$.nodes[3].body.output` from ['nodes', 3, 'body', 'output']. */
export function jsonPath(segments: readonly PropertyKey[]): string {
  let path = '$';
  for (const s of segments) {
    if (typeof s === 'number') path += `[${s}]`;
    else if (typeof s === 'string' && /^[A-Za-z_$][\w$]*$/.test(s)) path += `.${s}`;
    else path += `[${JSON.stringify(String(s))}]`;
  }
  return path;
}
