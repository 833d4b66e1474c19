import { tf, type Module } from '@quantnas/core-ops';
import type { Supernet } from '@quantnas/search-spaces';
import type { Adam } from './adam.js';
import type { EntropyKind } from './config.js';

/**
 * The step math of the search and the training (docs/method.md §7, §8): the objectives and one
 * optimiser step on α or on the weights. The loops (search.ts, train/train.ts) and the data-parallel
 * replicas (parallel/) all take their steps from here.
 */

export interface AlphaStepOptions {
  readonly entropy: EntropyKind;
  /** λ_H·w1(e)·w2(e): the scheduled weight of the entropy term this epoch. */
  readonly entropyWeight: number;
  /** λ. */
  readonly penalty: number;
  /** B(α₀). */
  readonly b0: number;
  /** The latency penalty λ_L·L(α)/L(α₀), L from a latency table's per-pair milliseconds (docs/method.md §7.1). */
  readonly latency?: LatencyTerm;
  readonly lr: number;
}

export interface LatencyTerm {
  /** λ_L. */
  readonly penalty: number;
  /** L(α₀): the blocks' expected milliseconds with α at its start (uniform). */
  readonly l0: number;
  /** Per α group, the table's milliseconds of each pair in the group's order. */
  readonly costs: Readonly<Record<string, readonly number[]>>;
}

export interface AlphaStepInfo {
  readonly loss: number;
  readonly l1: number;
  /** H (or the L1 alternative) before the weight. */
  readonly entropy: number;
  readonly entropyTerm: number;
  /** λ·B(α)/B(α₀). */
  readonly penaltyTerm: number;
  /** B(α) before the step. */
  readonly expectedBitops: number;
  /** λ_L·L(α)/L(α₀), 0 without a latency penalty. */
  readonly latencyTerm: number;
  /** L(α) before the step, ms (0 without a latency penalty). */
  readonly expectedLatency: number;
}

/** The reconstruction loss of a training forward, mean |f(lr) − hr|; called inside a gradient scope, which disposes the intermediates. */
export function reconstructionL1(net: Module, lr: tf.Tensor4D, hr: tf.Tensor4D): tf.Scalar {
  return tf.mean(tf.abs(tf.sub(net.apply(lr, { training: true }), hr))) as tf.Scalar;
}

/** The α objective's terms for a reconstruction loss `l1` (docs/method.md §7); all scalars, the caller disposes them. */
export function alphaObjective(
  net: Supernet,
  l1: tf.Scalar,
  options: Pick<AlphaStepOptions, 'entropy' | 'entropyWeight' | 'penalty' | 'b0' | 'latency'>,
): { total: tf.Scalar; regulariser: tf.Scalar; entropyTerm: tf.Scalar; bitops: tf.Scalar; penaltyTerm: tf.Scalar; latency: tf.Scalar; latencyTerm: tf.Scalar } {
  return tf.tidy(() => {
    const regulariser = regulariserOf(net, options.entropy);
    const entropyTerm = tf.mul(regulariser, options.entropyWeight) as tf.Scalar;
    const bitops = net.expectedBitops();
    const penaltyTerm = tf.mul(tf.div(bitops, options.b0), options.penalty) as tf.Scalar;
    const lat = options.latency;
    const latency = lat && lat.penalty > 0 ? net.expectedCost(lat.costs) : tf.scalar(0);
    const latencyTerm = lat && lat.penalty > 0 ? (tf.mul(tf.div(latency, lat.l0), lat.penalty) as tf.Scalar) : tf.scalar(0);
    const total = tf.addN([l1, entropyTerm, penaltyTerm, latencyTerm]) as tf.Scalar;
    return { total, regulariser, entropyTerm, bitops, penaltyTerm, latency, latencyTerm };
  });
}

function regulariserOf(net: Supernet, kind: EntropyKind): tf.Scalar {
  switch (kind) {
    case 'entropy':
      return net.entropy();
    case 'none':
      return tf.scalar(0);
    case 'l1-alpha':
      return tf.addN(net.alphas().map((g) => tf.sum(tf.abs(g.variable)))) as tf.Scalar;
    case 'l1-softmax':
      // Σ|p| is 1 per group: a constant with zero gradient, kept for comparison with the reference.
      return tf.addN(net.alphas().map((g) => tf.sum(tf.abs(tf.softmax(g.variable))))) as tf.Scalar;
  }
}

/** One Adam step on α with the full α objective; reads the terms back. Disposes `lr` and `hr`. */
export async function alphaStep(
  net: Supernet,
  alphas: ReadonlyMap<string, tf.Variable>,
  adam: Adam,
  lr: tf.Tensor4D,
  hr: tf.Tensor4D,
  options: AlphaStepOptions,
): Promise<AlphaStepInfo> {
  let parts: ReturnType<typeof alphaObjective> | undefined;
  let l1: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    l1 = tf.keep(reconstructionL1(net, lr, hr));
    const p = alphaObjective(net, l1, options);
    parts = p;
    for (const t of [p.regulariser, p.entropyTerm, p.bitops, p.penaltyTerm, p.latency, p.latencyTerm]) tf.keep(t);
    return p.total;
  }, [...alphas.values()]);
  tf.dispose([lr, hr]);
  const named = new Map([...alphas].map(([name, v]) => [name, grads[v.name]!]));
  adam.apply(alphas, named, options.lr);
  const read = async (t: tf.Tensor) => (await t.data())[0]!;
  const p = parts!;
  const info: AlphaStepInfo = {
    loss: await read(value),
    l1: await read(l1!),
    entropy: await read(p.regulariser),
    entropyTerm: await read(p.entropyTerm),
    penaltyTerm: await read(p.penaltyTerm),
    expectedBitops: await read(p.bitops),
    latencyTerm: await read(p.latencyTerm),
    expectedLatency: await read(p.latency),
  };
  tf.dispose([value, l1!, p.regulariser, p.entropyTerm, p.bitops, p.penaltyTerm, p.latency, p.latencyTerm, grads as unknown as tf.Tensor[]]);
  return info;
}

/**
 * One Adam step on the weights with plain L1, gradients clipped to a global norm; returns the loss.
 * A variable the forward did not use (a skipped op) gets no gradient and no update. Disposes `lr`
 * and `hr`.
 */
export async function weightStep(
  net: Module,
  weights: ReadonlyMap<string, tf.Variable>,
  adam: Adam,
  lr: tf.Tensor4D,
  hr: tf.Tensor4D,
  rate: number,
  clip: number,
): Promise<number> {
  const { value, grads } = tf.variableGrads(() => reconstructionL1(net, lr, hr), [...weights.values()]);
  tf.dispose([lr, hr]);
  const norm = adam.applyClipped(weights, gradientsByName(weights, grads), rate, clip);
  const loss = (await value.data())[0]!;
  tf.dispose([value, norm, ...Object.values(grads)]);
  return loss;
}

/** `variableGrads`' gradients (keyed by tfjs variable name) under the module's own variable names; unused variables left out. */
export function gradientsByName(variables: ReadonlyMap<string, tf.Variable>, grads: tf.NamedTensorMap): Map<string, tf.Tensor> {
  const named = new Map<string, tf.Tensor>();
  for (const [name, v] of variables) {
    const g = grads[v.name];
    if (g) named.set(name, g);
  }
  return named;
}
