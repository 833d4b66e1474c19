import { tf } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';
import type { Genotype, Supernet } from '@quantnas/search-spaces';
import type { LatencyTerm } from './steps.js';
import { validationPsnr } from './train/validation.js';

/**
 * Fixes the supernet to one path: per α group, logits 0 for the genotype's pair and −10⁴ for the
 * others, so softmax gives exactly 1 and 0 and forward passes skip the other ops.
 */
export async function assignPath(net: Supernet, genotype: Genotype): Promise<void> {
  for (const alpha of net.alphas()) {
    const choice = genotype.blocks[alpha.id];
    if (!choice) throw new Error(`the genotype has no choice for the supernet's α group '${alpha.id}'`);
    const logits = alpha.pairs.map((p) => (p.op === choice.op && p.bits === choice.bits ? 0 : -1e4));
    if (!logits.includes(0)) throw new Error(`'${choice.op}' at ${choice.bits} bits is not a candidate of '${alpha.id}'`);
    const value = tf.tensor1d(logits);
    alpha.variable.assign(value);
    value.dispose();
  }
  await net.updateSkippedOps();
}

/** A copy of the supernet's α: `put` writes it back and refreshes the skipped ops; `dispose` frees it. */
export function saveAlphas(net: Supernet): { put(): Promise<void>; dispose(): void } {
  const saved = net.alphas().map((a) => a.variable.clone());
  return {
    async put() {
      net.alphas().forEach((a, i) => a.variable.assign(saved[i]!));
      await net.updateSkippedOps();
    },
    dispose: () => tf.dispose(saved),
  };
}

/** Mean absolute error of the network's inference output over the patches, in chunks. */
export async function validationL1(net: Supernet, batch: PatchBatch, chunk: number): Promise<number> {
  const [n, h, w, c] = batch.lrShape;
  const [, hh, hw, hc] = batch.hrShape;
  let sum = 0;
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const value = tf.tidy(() => {
      const x = tf.tensor4d(batch.lr.subarray(start * h * w * c, (start + count) * h * w * c), [count, h, w, c]);
      const y = tf.tensor4d(batch.hr.subarray(start * hh * hw * hc, (start + count) * hh * hw * hc), [count, hh, hw, hc]);
      return tf.sum(tf.abs(tf.sub(net.apply(x, { training: false }), y)));
    });
    sum += (await value.data())[0]!;
    value.dispose();
  }
  return sum / (n * hh * hw * hc);
}

export interface PathDerivationOptions {
  /** Held-out patches the paths are scored on. */
  readonly validation: PatchBatch;
  readonly chunk: number;
  readonly scale: number;
  /** λ and B(α₀) of the search: a path's objective is its validation L1 + λ·B(path)/B(α₀), as the α step's. */
  readonly penalty: number;
  readonly b0: number | null;
  /** The search's latency penalty, if it has one: it adds λ_L·L(path)/L(α₀) to the objective. */
  readonly latency?: LatencyTerm;
  /** Where the descent may start: the best-scoring of these (the arg-max of α, the space's baselines). */
  readonly starts: readonly { readonly name: string; readonly genotype: Genotype }[];
  /** Passes over the groups; it stops early when a pass changes nothing (default 2; 0 returns the best start). */
  readonly sweeps?: number;
  /**
   * How a `noise`-mode supernet evaluates a path (default `rounded`: its bit-widths as real rounding,
   * so fewer bits cost what they cost; `expectation` makes every bit-width score the same).
   */
  readonly evaluation?: Supernet['evaluation'];
}

export interface PathDerivation {
  readonly genotype: Genotype;
  readonly start: string;
  readonly startObjective: number;
  readonly objective: number;
  readonly validationL1: number;
  /** The derived path's validation PSNR (standard protocol). */
  readonly validationPsnr: number;
  /** Paths scored. */
  readonly evaluations: number;
}

/**
 * Derives the genotype from the trained supernet's paths instead of from α alone: scores each start
 * point, then, group by group, tries every pair of the group with the rest fixed and keeps the best
 * objective (validation L1 + λ·B/B₀), until a pass over the groups changes nothing. This measures
 * each block's sensitivity (to its op and to fewer bits) on the weights the search trained, where
 * α only accumulated noisy gradients of the mixture. The supernet's α and evaluation are restored afterwards.
 */
export async function derivePath(net: Supernet, options: PathDerivationOptions): Promise<PathDerivation> {
  if (options.starts.length === 0) throw new Error('derivePath needs at least one start genotype');
  const saved = saveAlphas(net);
  const evaluation = net.evaluation;
  net.evaluation = options.evaluation ?? 'rounded';
  const cache = new Map<string, { objective: number; l1: number }>();
  const score = async (genotype: Genotype) => {
    const key = JSON.stringify(net.alphas().map((a) => genotype.blocks[a.id]));
    const known = cache.get(key);
    if (known) return known;
    await assignPath(net, genotype);
    const l1 = await validationL1(net, options.validation, options.chunk);
    let objective = l1;
    if (options.penalty > 0 && options.b0 !== null && options.b0 > 0) {
      const b = net.expectedBitops();
      objective += (options.penalty * (await b.data())[0]!) / options.b0;
      b.dispose();
    }
    if (options.latency && options.latency.penalty > 0) {
      const l = net.expectedCost(options.latency.costs);
      objective += (options.latency.penalty * (await l.data())[0]!) / options.latency.l0;
      l.dispose();
    }
    const result = { objective, l1 };
    cache.set(key, result);
    return result;
  };
  try {
    let best = options.starts[0]!;
    let bestScore = await score(best.genotype);
    for (const start of options.starts.slice(1)) {
      const s = await score(start.genotype);
      if (s.objective < bestScore.objective) {
        best = start;
        bestScore = s;
      }
    }
    const start = best.name;
    const startObjective = bestScore.objective;
    let current = best.genotype;
    for (let sweep = 0; sweep < (options.sweeps ?? 2); sweep++) {
      let changed = false;
      for (const alpha of net.alphas()) {
        for (const pair of alpha.pairs) {
          const chosen = current.blocks[alpha.id]!;
          if (pair.op === chosen.op && pair.bits === chosen.bits) continue;
          const candidate = { ...current, blocks: { ...current.blocks, [alpha.id]: pair } };
          const s = await score(candidate);
          if (s.objective < bestScore.objective) {
            current = candidate;
            bestScore = s;
            changed = true;
          }
        }
      }
      if (!changed) break;
    }
    await assignPath(net, current);
    const psnr = await validationPsnr(net, options.validation, options.scale, options.chunk);
    return {
      genotype: current,
      start,
      startObjective,
      objective: bestScore.objective,
      validationL1: bestScore.l1,
      validationPsnr: psnr,
      evaluations: cache.size,
    };
  } finally {
    await saved.put();
    saved.dispose();
    net.evaluation = evaluation;
  }
}
