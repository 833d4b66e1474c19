import { describe, expect, it } from 'vitest';
import { baselineGenotype } from './baseline.js';
import { checkGenotype } from './genotype-check.js';
import { GenotypeError, parseGenotype } from './genotype.js';
import { getSpace, SPACE_IDS } from './registry.js';
import { resolveSpace } from './resolve-space.js';
import { SpecError } from './spec-error.js';
import { espcn, espcnGenotype } from './test-helpers.js';
import { validateSpec } from './validate-spec.js';

// Random mutations of the shipped documents: every one either validates or fails with a SpecError
// or GenotypeError whose message is one line naming a JSON path, each within a time bound, and
// all of them together within a memory bound. Seeded: a failure names its seed and mutation.

function lcg(seed: number) {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]! };
}
type Rng = ReturnType<typeof lcg>;

/** Values a hostile or careless document might hold, small and huge. */
const VALUES: readonly unknown[] = [
  0,
  -1,
  1,
  2,
  3,
  1.5,
  7,
  100001,
  1e6,
  1e9,
  1e308,
  -1e308,
  2 ** 53,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  'C',
  'C*C*C*C',
  '1e9*C',
  'N*N*N',
  '3*s*s',
  'C/0',
  '(C',
  'input',
  'x',
  '__proto__',
  'constructor',
  'simple_3x3',
  'growth2_5x5',
  'skip_connect',
  'zero',
  'mixed',
  'conv',
  'repeat',
  'concat',
  null,
  true,
  false,
  [],
  {},
  [1, 2],
  { kind: 'add' },
  'a'.repeat(10_000),
];

/** Every [parent, key] of a JSON tree, paths included, so that a mutation can reach any node. */
function slots(root: unknown): [Record<string | number, unknown>, string | number][] {
  const out: [Record<string | number, unknown>, string | number][] = [];
  const walk = (value: unknown) => {
    if (typeof value !== 'object' || value === null) return;
    for (const key of Array.isArray(value) ? value.keys() : Object.keys(value)) {
      out.push([value as Record<string | number, unknown>, key]);
      walk((value as Record<string | number, unknown>)[key]);
    }
  };
  walk(root);
  return out;
}

function mutate(doc: unknown, rng: Rng): string {
  const all = slots(doc);
  const [parent, key] = rng.pick(all);
  const kind = rng.int(8);
  switch (kind) {
    case 0:
    case 1: {
      const value = structuredClone(rng.pick(VALUES));
      parent[key] = value;
      return `set ${String(key)} = ${JSON.stringify(value)?.slice(0, 40)}`;
    }
    case 2:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      return `delete ${String(key)}`;
    case 3: {
      // Another node's value here (a type confusion that stays plausible).
      const [p2, k2] = rng.pick(all);
      parent[key] = structuredClone(p2[k2]);
      return `copy ${String(k2)} to ${String(key)}`;
    }
    case 4:
      if (Array.isArray(parent)) parent.push(structuredClone(parent[key]));
      else parent[`${String(key)}_extra`] = 1;
      return `grow at ${String(key)}`;
    case 5: {
      const v = parent[key];
      if (typeof v === 'number') parent[key] = rng.pick([v * 1000, -v, v + 1, v * 1e9]);
      else if (typeof v === 'string') parent[key] = rng.pick([`${v}*1000`, `${v}${v}`, v.toUpperCase(), `1000*${v}`]);
      else parent[key] = 1e9;
      return `scale ${String(key)}`;
    }
    case 6:
      if (!Array.isArray(parent))
        Object.defineProperty(parent, '__proto__', { value: { polluted: true }, enumerable: true, configurable: true, writable: true });
      return 'add __proto__';
    default: {
      // A deep nest where a value belongs.
      let nest: unknown = 1;
      for (let i = 0; i < 200; i++) nest = [nest];
      parent[key] = nest;
      return `nest at ${String(key)}`;
    }
  }
}

/** Runs `check` on the mutated document: it must return, or throw `ErrorType` with a path and one line. */
function expectValidOrPath(label: string, check: () => void, started = performance.now()): 'valid' | 'rejected' {
  let outcome: 'valid' | 'rejected' = 'valid';
  try {
    check();
  } catch (error) {
    outcome = 'rejected';
    const ok =
      (error instanceof SpecError || error instanceof GenotypeError) && /^\$/.test((error as SpecError).path) && !(error as Error).message.includes('\n');
    if (!ok) throw new Error(`${label}: threw ${(error as Error)?.name}: ${String((error as Error)?.message).slice(0, 300)}`);
  }
  const ms = performance.now() - started;
  if (ms > 2000) throw new Error(`${label}: took ${ms.toFixed(0)} ms`);
  return outcome;
}

const SPACES: [string, unknown][] = [...SPACE_IDS.map((id) => [id, getSpace(id)] as [string, unknown]), ['examples/espcn', espcn]];
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);

describe('fuzzing space documents', () => {
  it.each(SPACES)(`%s: ${RUNS} mutated documents each validate or name a JSON path`, (name, base) => {
    const rssBefore = process.memoryUsage().rss;
    const outcomes = { valid: 0, rejected: 0 };
    for (let seed = 1; seed <= RUNS; seed++) {
      const rng = lcg(seed * 7919 + name.length);
      const doc = structuredClone(base);
      const steps = [mutate(doc, rng), ...(rng.next() < 0.4 ? [mutate(doc, rng)] : [])];
      outcomes[expectValidOrPath(`${name} seed ${seed} (${steps.join('; ')})`, () => void validateSpec(doc, `${name}.json`))]++;
    }
    expect(outcomes.rejected).toBeGreaterThan(RUNS / 4);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(512 * 1024 * 1024);
  });
});

describe('fuzzing genotype documents', () => {
  const genotypes: [string, unknown, unknown][] = [
    ['my-espcn', espcnGenotype, espcn],
    ...SPACE_IDS.map((id) => {
      const { spec, genotype } = baselineGenotype(getSpace(id), { bits: 8 });
      return [id, genotype, spec] as [string, unknown, unknown];
    }),
  ];
  it.each(genotypes)(`%s: ${RUNS} mutated genotypes each fit the space or name a JSON path`, (name, base, spec) => {
    const rssBefore = process.memoryUsage().rss;
    const outcomes = { valid: 0, rejected: 0 };
    for (let seed = 1; seed <= RUNS; seed++) {
      const rng = lcg(seed * 104729 + name.length);
      const doc = structuredClone(base);
      const steps = [mutate(doc, rng), ...(rng.next() < 0.4 ? [mutate(doc, rng)] : [])];
      outcomes[
        expectValidOrPath(`${name} genotype seed ${seed} (${steps.join('; ')})`, () => {
          const genotype = parseGenotype(doc, 'genotype.json');
          // As training does: the space at the genotype's width and scale, then the fit.
          const plan = resolveSpace(spec as never, { channels: genotype.channels, scale: genotype.scale });
          checkGenotype(plan, genotype, 'genotype.json');
        })
      ]++;
    }
    expect(outcomes.rejected).toBeGreaterThan(RUNS / 4);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(512 * 1024 * 1024);
  });
});
