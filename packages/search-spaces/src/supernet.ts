import {
  createConv,
  createEsa,
  createPrimitive,
  fusedKernelsAvailable,
  hashSeed,
  parsePrimitive,
  plainQuantizers,
  primitiveMacsPerPixel,
  tf,
  type ConvQuantizerFactory,
  type ForwardContext,
  type Module,
  variableFrom,
  type PrimitiveModule,
} from '@quantnas/core-ops';
import { createAdqUnit, DEFAULT_ADQ_OPTIONS, type AdqOptions } from '@quantnas/adq';
import {
  directQuantizers,
  fusedWeightedSum,
  NOISE_EVALUATIONS,
  noiseQuantizers,
  STANDARD_COST_INPUT,
  type BitWidth,
  type NoiseGradient,
  type NoiseEvaluation,
  type NoiseKind,
  type QuantKernels,
} from '@quantnas/quant';
import { genotypeCost, gridPixels, type CostInput } from './cost.js';
import { GENOTYPE_SCHEMA_VERSION, type Genotype } from './genotype.js';
import { checkGenotype } from './genotype-check.js';
import { buildGraph, initialConvWeight } from './graph-module.js';
import type { AlphaGroupPlan, MixedStep, Pair, SpacePlan } from './plan.js';
import { resolveSpace } from './resolve-space.js';
import type { SearchSpaceSpec } from './spec.js';

/** How quantization is simulated in the search (docs/method.md §4.2, §4.3), or not at all (`fp`). */
export type SearchMode = 'noise' | 'direct' | 'fp';
export type Selector = 'softmax' | 'gumbel';

export interface SupernetOptions {
  readonly mode: SearchMode;
  /** Candidate bit-widths, replacing the space's; ignored in `fp` (every pair is then op@32). */
  readonly bits?: readonly BitWidth[];
  /** ADQ on the residual units the space marks `adq: true` (off: plain residuals). */
  readonly adq: boolean;
  readonly adqOptions?: Partial<Omit<AdqOptions, 'enabled'>>;
  readonly noise?: NoiseKind;
  readonly noiseGradient?: NoiseGradient;
  /** Default `softmax`; `gumbel` samples p = softmax((α + g)/τ) on every training forward. */
  readonly selector?: Selector;
  /** Gumbel-softmax temperature τ; default 1. */
  readonly temperature?: number;
  readonly seed: number;
  readonly channels?: number;
  readonly cells?: number;
  readonly scale?: number;
  /** LR input size the expected and exact BitOps are stated for; default 32×32. */
  readonly costInput?: CostInput;
  /**
   * How a pair's bit-width b enters `expectedBitops`: `linear` (default) multiplies MACs by b once,
   * as docs/method.md §7 writes B(α); `product` by b_w·b_a = b², the BitOps the pair would really cost.
   */
  readonly penaltyBits?: 'linear' | 'product';
  /**
   * `fused` (default): each quantizer, noise mix and mixed op's sum is one kernel (and one per
   * gradient) where the backend has them; `reference`: the same math in composed tfjs ops.
   */
  readonly kernels?: QuantKernels;
}

/** One α vector: its genotype key, its op-major pairs, the blocks that share it. */
export interface AlphaGroup {
  readonly id: string;
  readonly pairs: readonly Pair[];
  readonly blocks: readonly string[];
  readonly variable: tf.Variable<tf.Rank.R1>;
}

export interface Supernet extends Module {
  readonly plan: SpacePlan;
  readonly mode: SearchMode;
  /** Every variable except α that the optimiser of w trains (conv weights, BN affine, ADQ scalars, quantizer steps). */
  weightVariables(): Map<string, tf.Variable>;
  /** α of every group, keyed `alpha.${group}`. */
  alphaVariables(): Map<string, tf.Variable>;
  alphas(): readonly AlphaGroup[];
  /** softmax(α) per group, without Gumbel noise; the caller disposes the tensors. */
  probabilities(): Map<string, tf.Tensor1D>;
  /** What a training forward uses: softmax(α), or a fresh seeded Gumbel-softmax sample. */
  sampleProbabilities(): Map<string, tf.Tensor1D>;
  /** Σ_groups −Σ_pairs p·log p, p = softmax(α); differentiable. */
  entropy(): tf.Scalar;
  /**
   * B(α) = Σ_groups Σ_k Σ_b p[k,b]·MACs_k·b (docs/method.md §7), p = softmax(α); MACs_k is op k's MACs
   * per output pixel times its grid's pixels (LR or HR) for `costInput`, summed over the blocks
   * sharing the group; b enters as `penaltyBits` says. Searchable blocks only; differentiable.
   */
  expectedBitops(): tf.Scalar;
  /**
   * Σ_groups Σ_k p[k]·costs[group][k], p = softmax(α): any per-pair cost in each group's pair order
   * (the latency penalty's milliseconds); differentiable. Throws when a group's costs are missing or
   * of another length.
   */
  expectedCost(costs: Readonly<Record<string, readonly number[]>>): tf.Scalar;
  /** Per group the arg-max pair of α (ties: the lower pair index); throws on a non-finite maximum. */
  argmaxGenotype(): Promise<Genotype>;
  /** BitOps (MACs·b_w·b_a, fixed layers included) of a genotype's network at `costInput`. */
  exactBitops(genotype: Genotype): number;
  /**
   * Reads softmax(α) once and records the ops whose P_k is exactly zero, which forward passes
   * then skip. Forward passes cannot read tensors synchronously, so the search loop calls this
   * after α steps. Returns the skipped ops as `group:op`.
   */
  updateSkippedOps(): Promise<readonly string[]>;
  /**
   * What forwards that are not training compute in `noise` mode: `expectation` (default, the mean
   * over the noise; bit-widths then only scale) or `rounded` (every bit-width as real rounding on the
   * noise's grid, so a path's score shows what fewer bits cost). `direct` and `fp` quantize (or not)
   * the same either way.
   */
  evaluation: NoiseEvaluation;
}

interface State {
  /** The probabilities of the forward pass in progress, per group. */
  current: Map<string, tf.Tensor1D> | null;
  skipped: Map<string, ReadonlySet<number>>;
  evaluation: NoiseEvaluation;
}

/** The differentiable supernet of a search space (docs/method.md §2): one mixed op per searchable block. */
export function createSupernet(spec: SearchSpaceSpec, options: SupernetOptions): Supernet {
  const mode = options.mode;
  if (mode !== 'noise' && mode !== 'direct' && mode !== 'fp') throw new Error(`unknown search mode '${String(mode)}' (expected noise, direct or fp)`);
  const selector = options.selector ?? 'softmax';
  if (selector !== 'softmax' && selector !== 'gumbel') throw new Error(`unknown selector '${String(selector)}' (expected softmax or gumbel)`);
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) throw new Error(`the Gumbel temperature must be positive, got ${temperature}`);
  if (!Number.isInteger(options.seed)) throw new Error(`seed must be an integer, got ${options.seed}`);
  const costInput = options.costInput ?? STANDARD_COST_INPUT;
  const penaltyBits = options.penaltyBits ?? 'linear';
  const kernels = options.kernels ?? 'fused';

  const plan = resolveSpace(spec, {
    ...(options.channels !== undefined ? { channels: options.channels } : {}),
    ...(options.scale !== undefined ? { scale: options.scale } : {}),
    ...(options.cells !== undefined ? { cells: options.cells } : {}),
    ...(mode === 'fp' ? { bits: [32] as const } : options.bits ? { bits: options.bits } : {}),
  });
  const state: State = { current: null, skipped: new Map(), evaluation: 'expectation' };
  const groupPlans = new Map(plan.groups.map((g) => [g.id, g]));

  const currentOf = (group: string): tf.Tensor1D => {
    const p = state.current?.get(group);
    if (!p) throw new Error(`supernet: the probabilities of '${group}' exist only during the supernet's forward pass`);
    return p;
  };

  const one = () => () => tf.ones([1]) as tf.Tensor1D;
  const fixedQuantizers: ConvQuantizerFactory =
    mode === 'noise'
      ? noiseQuantizers({ bits: [plan.fixedBits], probabilities: one, seed: options.seed, kernels, ...noiseOptions(options, state) })
      : mode === 'direct'
        ? directQuantizers({ bits: [plan.fixedBits], probabilities: one, kernels })
        : plainQuantizers;
  // Each op's quantizers read its bit-widths' probabilities from the group's whole vector.
  const opQuantizers = (group: AlphaGroupPlan, k: number): ConvQuantizerFactory => {
    const slice = { probabilities: () => () => currentOf(group.id), probabilityOffset: k * group.bits.length, kernels };
    if (mode === 'noise') return noiseQuantizers({ bits: group.bits, seed: options.seed, ...slice, ...noiseOptions(options, state) });
    if (mode === 'direct') return directQuantizers({ bits: group.bits, ...slice });
    return plainQuantizers;
  };

  const mixedOp = (step: MixedStep): Module => {
    const group = groupPlans.get(step.group)!;
    const n = group.bits.length;
    const ops: PrimitiveModule[] = [];
    try {
      step.candidates.forEach((op, k) =>
        ops.push(
          createPrimitive(op, {
            name: `${step.name}.${op}`,
            inChannels: step.inChannels,
            outChannels: step.outChannels,
            width: step.width,
            quantizers: opQuantizers(group, k),
            seed: options.seed,
            ...(step.initScale !== undefined ? { outputInitScale: step.initScale } : {}),
            ...(step.initGain !== undefined ? { initGain: step.initGain } : {}),
          }),
        ),
      );
    } catch (error) {
      for (const op of ops) op.dispose();
      throw error;
    }
    return {
      apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
        return tf.tidy(() => {
          const p = currentOf(group.id);
          const skipped = state.skipped.get(group.id);
          const outputs: tf.Tensor4D[] = [];
          const indices: number[] = [];
          ops.forEach((op, k) => {
            // A zero op contributes P_k·0: nothing to compute.
            if (op.primitive.kind === 'zero' || skipped?.has(k)) return;
            outputs.push(op.apply(x, ctx));
            indices.push(k);
          });
          if (outputs.length === 0) return tf.zeros([x.shape[0], x.shape[1], x.shape[2], step.outChannels]);
          if (kernels === 'fused' && fusedKernelsAvailable()) {
            return fusedWeightedSum(outputs, p, { weighting: 'opTotal', terms: indices, perOp: n, offset: 0 });
          }
          const terms = outputs.map((y, j) => tf.mul<tf.Tensor4D>(y, tf.sum(tf.slice(p, [indices[j]! * n], [n]))));
          return terms.length === 1 ? terms[0]! : (tf.addN(terms) as tf.Tensor4D);
        });
      },
      variables() {
        const vars = new Map<string, tf.Variable>();
        for (const op of ops) for (const [k, v] of op.variables()) vars.set(k, v);
        return vars;
      },
      dispose() {
        for (const op of ops) op.dispose();
      },
    };
  };

  const adqOptions: AdqOptions = { ...DEFAULT_ADQ_OPTIONS, ...options.adqOptions, enabled: options.adq };
  const graph = buildGraph(plan.root, {
    mixed: mixedOp,
    conv: (step) =>
      createConv({
        name: step.name,
        inChannels: step.inChannels,
        outChannels: step.outChannels,
        kernel: step.kernel,
        groups: step.groups,
        bias: step.bias,
        quantizers: fixedQuantizers,
        seed: options.seed,
        initialWeight: initialConvWeight(step),
        trainable: !step.frozen,
      }),
    esa: (step) => createEsa({ name: step.name, channels: step.outChannels, quantizers: fixedQuantizers, seed: options.seed }),
    residual: (step, body) =>
      createAdqUnit({ name: step.name, body, channels: step.outChannels, options: { ...adqOptions, enabled: options.adq && step.adq } }),
  });

  const alphaGroups: AlphaGroup[] = plan.groups.map((g) => ({
    id: g.id,
    pairs: g.pairs,
    blocks: g.blocks.map((b) => b.name),
    variable: variableFrom(tf.zeros([g.pairs.length]) as tf.Tensor1D, true),
  }));

  // Per group the cost of each pair: Σ over its blocks of MACs on the block's grid, times b or b².
  const pairCosts = new Map(
    plan.groups.map((g) => {
      const costs = new Float32Array(g.pairs.length);
      g.pairs.forEach(({ op, bits }, i) => {
        const macs = g.blocks.reduce(
          (sum, b) => sum + primitiveMacsPerPixel(parsePrimitive(op), b.inChannels, b.outChannels, b.width) * gridPixels(b.grid, plan.scale, costInput),
          0,
        );
        costs[i] = macs * (penaltyBits === 'product' ? bits * bits : bits);
      });
      return [g.id, costs];
    }),
  );

  let gumbelDraw = 0;
  const softmaxAll = () => new Map(alphaGroups.map((g) => [g.id, tf.softmax(g.variable) as tf.Tensor1D]));
  const sample = (): Map<string, tf.Tensor1D> => {
    if (selector === 'softmax') return softmaxAll();
    const draw = gumbelDraw++;
    return new Map(
      alphaGroups.map((g) => [
        g.id,
        tf.tidy(() => {
          const seed = hashSeed(options.seed, `gumbel.${g.id}.${draw}`) || 1;
          const u = tf.randomUniform([g.pairs.length], 1e-6, 1 - 1e-6, 'float32', seed);
          const gumbel = tf.neg(tf.log(tf.neg(tf.log(u))));
          return tf.softmax(tf.div(tf.add(g.variable, gumbel), temperature)) as tf.Tensor1D;
        }),
      ]),
    );
  };

  const alphaVariables = () => new Map(alphaGroups.map((g) => [`alpha.${g.id}`, g.variable as tf.Variable]));

  return {
    plan,
    mode,
    apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
      return tf.tidy(() => {
        state.current = ctx.training ? sample() : softmaxAll();
        try {
          return graph.apply(x, ctx);
        } finally {
          state.current = null;
        }
      });
    },
    variables() {
      return new Map([...graph.variables(), ...alphaVariables()]);
    },
    weightVariables() {
      return new Map([...graph.variables()].filter(([, v]) => v.trainable));
    },
    alphaVariables,
    alphas: () => alphaGroups,
    probabilities: softmaxAll,
    sampleProbabilities: sample,
    entropy(): tf.Scalar {
      return tf.tidy(
        () =>
          tf.addN(
            alphaGroups.map((g) => {
              const p = tf.softmax(g.variable);
              // p = 0 (α = −∞) contributes 0, not 0·log 0 = NaN.
              return tf.neg(tf.sum(tf.mul(p, tf.log(tf.clipByValue(p, 1e-30, 1)))));
            }),
          ) as tf.Scalar,
      );
    },
    expectedBitops(): tf.Scalar {
      return tf.tidy(() => tf.addN(alphaGroups.map((g) => tf.sum(tf.mul(tf.softmax(g.variable), tf.tensor1d(pairCosts.get(g.id)!))))) as tf.Scalar);
    },
    expectedCost(costs): tf.Scalar {
      for (const g of alphaGroups) {
        const c = costs[g.id];
        if (!c || c.length !== g.pairs.length)
          throw new RangeError(`expectedCost: group '${g.id}' needs ${g.pairs.length} costs, got ${c ? c.length : 'none'}`);
      }
      return tf.tidy(() => tf.addN(alphaGroups.map((g) => tf.sum(tf.mul(tf.softmax(g.variable), tf.tensor1d(costs[g.id] as number[]))))) as tf.Scalar);
    },
    async argmaxGenotype(): Promise<Genotype> {
      const blocks: Record<string, Pair> = {};
      for (const g of alphaGroups) {
        const alpha = await g.variable.data();
        let best = 0;
        for (let i = 1; i < alpha.length; i++) if (alpha[i]! > alpha[best]!) best = i;
        if (!Number.isFinite(alpha[best]!) || alpha.some((a) => Number.isNaN(a))) {
          throw new Error(`supernet: α of '${g.id}' has no finite maximum ([${Array.from(alpha).join(', ')}])`);
        }
        blocks[g.id] = g.pairs[best]!;
      }
      return { schemaVersion: GENOTYPE_SCHEMA_VERSION, space: plan.id, scale: plan.scale, channels: plan.channels, blocks };
    },
    exactBitops(genotype: Genotype): number {
      checkGenotype(plan, genotype);
      return genotypeCost(plan, genotype, { input: costInput }).total.bitops;
    },
    get evaluation(): NoiseEvaluation {
      return state.evaluation;
    },
    set evaluation(value: NoiseEvaluation) {
      if (!NOISE_EVALUATIONS.includes(value)) throw new Error(`unknown evaluation '${String(value)}' (expected ${NOISE_EVALUATIONS.join(' or ')})`);
      state.evaluation = value;
    },
    async updateSkippedOps(): Promise<readonly string[]> {
      const names: string[] = [];
      for (const g of alphaGroups) {
        const p = tf.softmax(g.variable);
        const values = await p.data();
        p.dispose();
        const plan = groupPlans.get(g.id)!;
        const n = plan.bits.length;
        const zero = new Set<number>();
        plan.candidates.forEach((op, k) => {
          if (values.subarray(k * n, (k + 1) * n).every((v) => v === 0)) {
            zero.add(k);
            names.push(`${g.id}:${op}`);
          }
        });
        state.skipped.set(g.id, zero);
      }
      return names;
    },
    dispose() {
      graph.dispose();
      for (const g of alphaGroups) g.variable.dispose();
    },
  };
}

function noiseOptions(options: SupernetOptions, state: State): { noise?: NoiseKind; noiseGradient?: NoiseGradient; evaluation: () => NoiseEvaluation } {
  return {
    evaluation: () => state.evaluation,
    ...(options.noise ? { noise: options.noise } : {}),
    ...(options.noiseGradient ? { noiseGradient: options.noiseGradient } : {}),
  };
}
