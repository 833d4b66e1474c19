/**
 * Why a run cannot be resumed with the options given: the settings the caller passed whose resolved
 * value differs from the stored run's (plus any `extra` names, e.g. a different space), as one
 * message; undefined when they agree.
 */
export function resumeConflict<C extends object>(
  dir: string,
  overrides: Partial<C>,
  requested: C,
  stored: C,
  extra: readonly string[] = [],
): string | undefined {
  const differing = (Object.keys(overrides) as (keyof C & string)[]).filter((k) => JSON.stringify(requested[k]) !== JSON.stringify(stored[k]));
  const names = [...extra, ...differing];
  if (names.length === 0) return undefined;
  const values = names.map((k) => `${k}=${JSON.stringify((stored as Record<string, unknown>)[k])}`);
  return `cannot resume ${dir} with different settings (${names.join(', ')}); the run was started with ${values.join(', ')}`;
}
