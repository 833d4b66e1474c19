import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, tf } from '@quantnas/core-ops';
import { resolveDataRoot } from '@quantnas/data';
import { baselineGenotype, createSupernet, getSpace, parseGenotype } from '@quantnas/search-spaces';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from './checkpoint.js';
import { parseEventLog, type SearchEvent } from './events.js';
import { runSearch, type SearchOptions, type SearchResult } from './search.js';
import { LATENCY_TABLE_KIND, latencyPairCosts, uniformLatency, type LatencyTable } from './latency/table.js';
import { alphaObjective } from './steps.js';
import { tinySearchOptions } from './test-helpers.js';

const dataRoot = resolveDataRoot();
const work = mkdtempSync(join(tmpdir(), 'quantnas-search-'));
let n = 0;
const outDir = () => join(work, `run${n++}`);

// A tiny supernet of the basic space (no ESA, so 8×8 patches work) on T91: seconds, not minutes.
const tiny = (out: string, extra: Partial<SearchOptions> = {}): SearchOptions => tinySearchOptions(out, dataRoot, extra);

beforeAll(async () => {
  await initBackend('wasm');
});

async function variables(dir: string) {
  return readCheckpoint(join(dir, 'checkpoint.qnc')).tensors;
}

describe('the α objective', () => {
  it('is L1 + λ_H·w·H + λ·B(α)/B(α₀), the penalty equal to λ at the first α step', async () => {
    const net = createSupernet(getSpace('basic'), { mode: 'noise', adq: true, seed: 1, channels: 6, cells: 1 });
    try {
      const b0 = (await net.expectedBitops().data())[0]!;
      const l1 = tf.scalar(0.25);
      const parts = alphaObjective(net, l1, { entropy: 'entropy', entropyWeight: 0.01, penalty: 0.5, b0 });
      const h = (await net.entropy().data())[0]!;
      // All α are zero: H = Σ_groups log(pairs).
      const expectedH = net.alphas().reduce((s, g) => s + Math.log(g.pairs.length), 0);
      expect(h).toBeCloseTo(expectedH, 4);
      expect((await parts.penaltyTerm.data())[0]).toBeCloseTo(0.5, 6);
      expect((await parts.entropyTerm.data())[0]).toBeCloseTo(0.01 * expectedH, 5);
      expect((await parts.total.data())[0]).toBeCloseTo(0.25 + 0.01 * expectedH + 0.5, 5);
      const none = alphaObjective(net, l1, { entropy: 'none', entropyWeight: 0.01, penalty: 0, b0 });
      expect((await none.total.data())[0]).toBeCloseTo(0.25, 6);
      const l1Alpha = alphaObjective(net, l1, { entropy: 'l1-alpha', entropyWeight: 1, penalty: 0, b0 });
      expect((await l1Alpha.regulariser.data())[0]).toBe(0);
      const l1Softmax = alphaObjective(net, l1, { entropy: 'l1-softmax', entropyWeight: 1, penalty: 0, b0 });
      expect((await l1Softmax.regulariser.data())[0]).toBeCloseTo(net.alphas().length, 5);
      tf.dispose([l1, parts, none, l1Alpha, l1Softmax] as unknown as tf.Tensor[]);
    } finally {
      net.dispose();
    }
  });
});

/** A hand-made table for the tiny basic space: every pair 1 ms, `expensive` 100 ms in every group. */
function handTable(
  plan: { id: string; channels: number; cells: number; scale: number; groups: readonly { id: string; pairs: readonly { op: string; bits: number }[] }[] },
  expensive: (p: { op: string; bits: number }) => boolean,
): LatencyTable {
  const entry = (ms: number) => ({ ms, min: ms, max: ms, rounds: 1 });
  return {
    schemaVersion: 1,
    kind: LATENCY_TABLE_KIND,
    space: plan.id,
    channels: plan.channels,
    cells: plan.cells,
    scale: plan.scale,
    input: { width: 64, height: 64 },
    engine: 'simd128',
    threads: 1,
    machine: { cpu: 'test', cores: 1, node: process.version, platform: 'test' },
    measuredAt: '2026-01-01T00:00:00.000Z',
    fixed: entry(5),
    groups: Object.fromEntries(plan.groups.map((g) => [g.id, Object.fromEntries(g.pairs.map((p) => [`${p.op}@${p.bits}`, entry(expensive(p) ? 100 : 1)]))])),
  };
}

describe('the latency penalty', () => {
  it('is λ_L·L(α)/L(α₀): λ_L at α₀, with the gradient p_k·(c_k − L_group)·λ_L/L(α₀)', async () => {
    const net = createSupernet(getSpace('basic'), { mode: 'noise', adq: true, seed: 1, channels: 6, cells: 1 });
    try {
      const table = handTable(net.plan, (p) => p.op === 'simple_3x3' && p.bits === 8);
      const costs = latencyPairCosts(table, net.plan);
      const latency = { penalty: 0.2, l0: uniformLatency(costs), costs };
      const l1 = tf.scalar(0.25);
      const b0 = (await net.expectedBitops().data())[0]!;
      const at0 = alphaObjective(net, l1, { entropy: 'none', entropyWeight: 0, penalty: 0, b0, latency });
      expect((await at0.latencyTerm.data())[0]).toBeCloseTo(0.2, 6);
      expect((await at0.total.data())[0]).toBeCloseTo(0.45, 6);
      // Away from α₀: the analytic gradient of the softmax-weighted sum.
      const alphas = net.alphas();
      alphas.forEach((g, i) => g.variable.assign(tf.tensor1d(g.pairs.map((_, k) => Math.sin(3 * k + i)))));
      const { grads } = tf.variableGrads(
        () => alphaObjective(net, l1, { entropy: 'none', entropyWeight: 0, penalty: 0, b0, latency }).latencyTerm,
        alphas.map((g) => g.variable),
      );
      for (const g of alphas) {
        const a = g.pairs.map((_, k) => Math.sin(3 * k + alphas.indexOf(g)));
        const e = a.map((x) => Math.exp(x - Math.max(...a)));
        const p = e.map((x) => x / e.reduce((s, y) => s + y, 0));
        const c = costs[g.id]!;
        const mean = p.reduce((s, pk, k) => s + pk * c[k]!, 0);
        const want = p.map((pk, k) => (pk * (c[k]! - mean) * 0.2) / latency.l0);
        const got = Array.from(await grads[g.variable.name]!.data());
        got.forEach((x, k) => expect(x, `${g.id}[${k}]`).toBeCloseTo(want[k]!, 6));
      }
      tf.dispose([l1, ...Object.values(grads), ...(Object.values(at0) as tf.Tensor[])]);
    } finally {
      net.dispose();
    }
  });

  it('steers the search off the pairs the table says are slow, and refuses a table of another space or width', async () => {
    const plan = createSupernet(getSpace('basic'), { mode: 'noise', adq: true, seed: 1, channels: 6, cells: 1 });
    const planShape = plan.plan;
    const table = handTable(planShape, (p) => p.bits === 8);
    plan.dispose();
    const events: SearchEvent[] = [];
    const result = await runSearch(tiny(outDir(), { penalty: 0, latencyPenalty: 50, latencyTable: table, alphaLr: 0.3 }), { onEvent: (e) => events.push(e) });
    expect(result.completed).toBe(true);
    if (!result.completed) return;
    const alphaSteps = events.filter((e) => e.status === 'step' && e.latencyTerm !== undefined);
    expect(alphaSteps.length).toBe(4);
    const first = alphaSteps[0]! as Extract<SearchEvent, { status: 'step' }>;
    const last = alphaSteps.at(-1)! as Extract<SearchEvent, { status: 'step' }>;
    expect(first.latencyTerm).toBeCloseTo(50, 4);
    expect(last.expectedLatencyMs!).toBeLessThan(first.expectedLatencyMs!);
    for (const [group, pair] of Object.entries(result.last.genotype.blocks)) expect(pair.bits, group).toBe(4);
    // The other way round, the same search keeps every block at 8 bits.
    const reversed = await runSearch(tiny(outDir(), { penalty: 0, latencyPenalty: 50, latencyTable: handTable(planShape, (p) => p.bits === 4), alphaLr: 0.3 }));
    if (!reversed.completed) throw new Error('the reversed search did not complete');
    for (const [group, pair] of Object.entries(reversed.last.genotype.blocks)) expect(pair.bits, group).toBe(8);

    await expect(runSearch(tiny(outDir(), { latencyPenalty: 1, latencyTable: { ...table, channels: 12 } }))).rejects.toThrow(
      /measured for channels 12, the search is at 6/,
    );
    await expect(runSearch(tiny(outDir(), { latencyPenalty: 1 }))).rejects.toThrow(/latencyPenalty needs a latencyTable/);
  });
});

describe('runSearch', () => {
  let straight: string;
  let result: SearchResult;
  const events: SearchEvent[] = [];

  beforeAll(async () => {
    straight = outDir();
    const before = tf.memory().numTensors;
    result = await runSearch(tiny(straight), { onEvent: (e) => events.push(e) });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writes every output and a log that parses into the events it reported', async () => {
    expect(result.completed).toBe(true);
    if (!result.completed) return;
    for (const f of ['genotype.json', 'genotype-best.json', 'genotype.svg', 'search.jsonl', 'summary.json', 'checkpoint.qnc', 'space.json']) {
      expect(existsSync(join(straight, f)), f).toBe(true);
    }
    const logged = parseEventLog<SearchEvent>(readFileSync(join(straight, 'search.jsonl'), 'utf8'), 'search.jsonl');
    expect(logged).toEqual(JSON.parse(JSON.stringify(events)));
    const steps = logged.filter((e) => e.status === 'step');
    expect(steps).toHaveLength(6);
    // Warm-up: the first epoch trains w only; then every step has an α step.
    expect(steps.map((e) => e.alphaLoss !== undefined)).toEqual([false, false, true, true, true, true]);
    const epochs = logged.filter((e) => e.status === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
    for (const e of epochs) {
      expect(e.validationPsnr).toBeGreaterThan(5);
      expect(Object.keys(e.genotype).length).toBeGreaterThan(0);
    }
    // The penalty is normalised by B(α₀) at the first α step: exactly λ there.
    const firstAlpha = steps.find((e) => e.alphaLoss !== undefined)!;
    expect(firstAlpha.penaltyTerm).toBeCloseTo(1e-3, 9);
    expect(result.initialExpectedBitops).toBe(firstAlpha.expectedBitops);
    expect(logged.at(-1)).toMatchObject({ status: 'done', genotypePath: join(straight, 'genotype.json') });

    const last = JSON.parse(readFileSync(join(straight, 'genotype.json'), 'utf8'));
    const best = JSON.parse(readFileSync(join(straight, 'genotype-best.json'), 'utf8'));
    expect(parseGenotype(last).derivedFrom).toEqual({ epoch: 2, selection: 'last' });
    expect(parseGenotype(best).derivedFrom?.selection).toBe('best-validation');
    expect(best.derivedFrom.epoch).toBeGreaterThanOrEqual(1); // not a warm-up epoch
    expect(last.exactBitops).toBe(result.last.exactBitops);
    // Measured on this seed's run: B(α) of the last α and the arg-max network's exact cost.
    expect(last.expectedBitops / 57508728).toBeCloseTo(1, 5);
    expect(last.exactBitops).toBe(178618368);
    expect(readFileSync(join(straight, 'genotype.svg'), 'utf8')).toContain('<svg');
    const summary = JSON.parse(readFileSync(join(straight, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ space: 'basic', steps: 6, alphaSteps: 4, config: { seed: 5, mode: 'noise', channels: 6 } });
    expect(summary).toMatchObject({ macsPerPixel: 3702, params: 3162 });
  });

  it('refuses to overwrite a finished run, and resume reads it back', async () => {
    await expect(runSearch(tiny(straight))).rejects.toThrow(/already holds a finished search/);
    const again = await runSearch({ ...tiny(straight), resume: true });
    expect(again.completed && again.last.genotype).toEqual(result.completed && result.last.genotype);
  });

  it('gives the same run for the same seed', async () => {
    const dir = outDir();
    await runSearch(tiny(dir));
    const [a, b] = [await variables(straight), await variables(dir)];
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, t] of a) expect(b.get(k)!.data, k).toEqual(t.data);
    expect(readFileSync(join(dir, 'genotype.json'), 'utf8')).toBe(readFileSync(join(straight, 'genotype.json'), 'utf8'));
  });

  it('derives by path from the same trained supernet: no worse than its start, written to genotype.json', async () => {
    const dir = outDir();
    const derived = await runSearch(tiny(dir, { derive: 'path' }));
    if (!derived.completed || !result.completed) throw new Error('unfinished');
    // The training is that of the α run (derivation happens after the last step).
    const [a, b] = [await variables(straight), await variables(dir)];
    for (const [k, t] of a) expect(b.get(k)!.data, k).toEqual(t.data);
    expect(derived.derivation).toMatchObject({ method: 'path' });
    expect(['alpha', 'baseline@8', 'baseline@4']).toContain(derived.derivation!.start);
    expect(derived.derivation!.objective).toBeLessThanOrEqual(derived.derivation!.startObjective);
    expect(derived.derivation!.evaluations).toBeGreaterThan(10);
    const written = parseGenotype(JSON.parse(readFileSync(join(dir, 'genotype.json'), 'utf8')));
    expect(written.blocks).toEqual(derived.last.genotype.blocks);
    expect(JSON.parse(readFileSync(join(dir, 'genotype.json'), 'utf8')).exactBitops).toBe(derived.last.exactBitops);
  });

  it("checks α's arg-max against the uniform-bit baselines and returns the better path, without descending", async () => {
    const checked = await runSearch(tiny(outDir(), { derive: 'checked' }));
    if (!checked.completed || !result.completed) throw new Error('unfinished');
    const d = checked.derivation!;
    expect(d).toMatchObject({ method: 'checked' });
    expect(d.objective).toBe(d.startObjective);
    expect(d.evaluations).toBeLessThanOrEqual(3);
    const baselines = Object.fromEntries(
      [8, 4].map((b) => [`baseline@${b}`, baselineGenotype(getSpace('basic'), { bits: b as 4 | 8, channels: 6, cells: 1 }).genotype.blocks]),
    );
    expect(checked.last.genotype.blocks).toEqual(d.start === 'alpha' ? result.last.genotype.blocks : baselines[d.start]);
  });

  it('searches a space document file at the width, scale and cells it states', async () => {
    const dir = outDir();
    const doc = join(work, 'my-basic.json');
    writeFileSync(doc, JSON.stringify({ ...getSpace('basic'), id: 'my-basic', channels: 3, scale: 2, cells: 1 }));
    const { channels: _c, cells: _n, ...rest } = tiny(dir);
    const r = await runSearch({ ...rest, space: doc });
    if (!r.completed) throw new Error('unfinished');
    expect(r.config).toMatchObject({ channels: 3, scale: 2, cells: 1 });
    expect(r.last.genotype).toMatchObject({ space: 'my-basic', channels: 3, scale: 2 });
  });

  it('trains one drawn path per w step with path sampling: the other ops keep their weights, α is untouched', async () => {
    // One warm-up step (the only w step before α moves), then one α epoch; the previous checkpoint is the warm-up's end.
    const opsTrained = async (pathSampling: 'warmup' | 'none') => {
      const dir = outDir();
      await runSearch(tiny(dir, { pathSampling, epochs: 2, warmupEpochs: 1, stepsPerEpoch: 1 }));
      const after = readCheckpoint(join(dir, 'checkpoint.prev.qnc')).tensors;
      const fresh = createSupernet(getSpace('basic'), { mode: 'noise', adq: true, seed: 5, channels: 6, cells: 1 });
      const perBlock = new Map<string, Set<string>>();
      try {
        for (const [name, v] of fresh.weightVariables()) {
          if (!name.endsWith('.weight')) continue;
          const block = fresh.plan.blocks.find((b) => name.startsWith(`${b.name}.`));
          if (!block) continue;
          const before = await v.data();
          const stored = after.get(`var/${name}`)!.data;
          if (stored.some((x, i) => x !== before[i])) {
            const op = name.slice(block.name.length + 1).split('.')[0]!;
            perBlock.set(block.name, new Set([...(perBlock.get(block.name) ?? []), op]));
          }
        }
        // α is all zeros until the first α step, whatever path the w step trained.
        for (const [name, t] of after)
          if (name.startsWith('var/alpha.'))
            expect(
              Array.from(t.data).every((x) => x === 0),
              name,
            ).toBe(true);
      } finally {
        fresh.dispose();
      }
      return perBlock;
    };
    const sampled = await opsTrained('warmup');
    expect(sampled.size).toBeGreaterThan(0);
    for (const [block, ops] of sampled) expect(ops.size, block).toBe(1);
    const mixture = await opsTrained('none');
    expect(Math.max(...[...mixture.values()].map((ops) => ops.size))).toBeGreaterThan(1);
  });

  it('resumes a stopped run to the same result, also from the previous checkpoint when the newest is corrupt', async () => {
    const dir = outDir();
    const controller = new AbortController();
    const stopped = await runSearch(tiny(dir, { checkpointEvery: 1 }), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.status === 'step' && e.step === 4) controller.abort();
      },
    });
    expect(stopped).toMatchObject({ completed: false, step: 4, totalSteps: 6 });
    await expect(runSearch(tiny(dir, { checkpointEvery: 1 }))).rejects.toThrow(/holds an unfinished search; resume it/);
    await expect(runSearch({ ...tiny(dir, { checkpointEvery: 1 }), seed: 6, resume: true })).rejects.toThrow(/different settings \(seed\).*seed=5/);

    // A torn newest checkpoint: the run goes on from the previous one (step 3), after saying so.
    const ckpt = join(dir, 'checkpoint.qnc');
    const bytes = readFileSync(ckpt);
    writeFileSync(ckpt, bytes.subarray(0, bytes.length - 100));
    const resumedEvents: SearchEvent[] = [];
    const resumed = await runSearch({ out: dir, space: 'basic', dataRoot, resume: true }, { onEvent: (e) => resumedEvents.push(e) });
    expect(resumed.completed).toBe(true);
    expect(resumedEvents[0]).toMatchObject({ status: 'start', resumedFromStep: 3 });
    expect(resumedEvents[1]).toMatchObject({ status: 'note' });
    expect((resumedEvents[1] as { message: string }).message).toMatch(
      /checkpoint\.qnc: truncated checkpoint.*resuming from the previous checkpoint .*checkpoint\.prev\.qnc \(step 3\)/,
    );
    expect(existsSync(`${ckpt}.corrupt`)).toBe(true);

    const [a, b] = [await variables(straight), await variables(dir)];
    for (const [k, t] of a) expect(b.get(k)!.data, k).toEqual(t.data);
    expect(readFileSync(join(dir, 'genotype.json'), 'utf8')).toBe(readFileSync(join(straight, 'genotype.json'), 'utf8'));
    expect(readFileSync(join(dir, 'genotype-best.json'), 'utf8')).toBe(readFileSync(join(straight, 'genotype-best.json'), 'utf8'));
    // The log holds each step once, as the uninterrupted run's does.
    const log = parseEventLog<SearchEvent>(readFileSync(join(dir, 'search.jsonl'), 'utf8'));
    const stepsOf = (events: SearchEvent[]) => events.filter((e) => e.status === 'step').map((e) => e.step);
    expect(stepsOf(log)).toEqual([1, 2, 3, 4, 5, 6]);
    const wLoss = (events: SearchEvent[]) => events.flatMap((e) => (e.status === 'step' ? [e.wLoss] : []));
    expect(wLoss(log)).toEqual(wLoss(events));
  });
});
