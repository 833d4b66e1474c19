import { tf, type Module } from '@quantnas/core-ops';
import { createDiscreteNetwork, createSupernet, type Supernet } from '@quantnas/search-spaces';
import { alphaObjective, gradientsByName, reconstructionL1 } from '../steps.js';
import type { AlphaTerms, PhaseKind, ReplicaNetwork, VariableLayout, VariableUpdate } from './protocol.js';

/**
 * What data parallelism needs of a network: its variables, the two trained groups and the skip-set
 * refresh of the search. A supernet is one; a genotype's network has no α and nothing to skip.
 */
export interface ReplicaNet extends Module {
  weightVariables(): Map<string, tf.Variable>;
  alphaVariables(): Map<string, tf.Variable>;
  updateSkippedOps(): Promise<unknown>;
}

/** A genotype's network seen as a replica: every trainable variable is a weight. */
export function discreteReplicaNet(net: Module): ReplicaNet {
  return {
    apply: (x, ctx) => net.apply(x, ctx),
    variables: () => net.variables(),
    dispose: () => net.dispose(),
    weightVariables: () => new Map([...net.variables()].filter(([, v]) => v.trainable)),
    alphaVariables: () => new Map(),
    updateSkippedOps: async () => undefined,
  };
}

/** Builds the network a replica init describes. */
export function buildReplicaNet(network: ReplicaNetwork): ReplicaNet {
  if (network.kind === 'supernet') return createSupernet(network.spec, network.options);
  return discreteReplicaNet(createDiscreteNetwork(network.spec, network.genotype, network.options));
}

/** The network's variables in a fixed order, the same in every replica built from the same options. */
export function variableLayout(net: ReplicaNet): VariableLayout {
  const entries = [...net.variables()];
  return { names: entries.map(([n]) => n), sizes: entries.map(([, v]) => v.size), shapes: entries.map(([, v]) => [...v.shape]) };
}

/** Indices of the variables that no optimiser trains (batch-norm running statistics): forwards change them. */
export function stateIndices(net: ReplicaNet, layout: VariableLayout): number[] {
  const trained = new Set([...net.weightVariables().keys(), ...net.alphaVariables().keys()]);
  return layout.names.flatMap((n, i) => (trained.has(n) ? [] : [i]));
}

export function sameLayout(a: VariableLayout, b: VariableLayout): boolean {
  return a.names.length === b.names.length && a.names.every((n, i) => n === b.names[i] && a.sizes[i] === b.sizes[i]);
}

/** Reads the listed variables into one buffer, in index order. */
export async function packVariables(net: ReplicaNet, layout: VariableLayout, indices: readonly number[], shared = false): Promise<Float32Array> {
  const variables = net.variables();
  const total = indices.reduce((s, i) => s + layout.sizes[i]!, 0);
  const out = new Float32Array(shared ? new SharedArrayBuffer(total * 4) : new ArrayBuffer(total * 4));
  let offset = 0;
  for (const i of indices) {
    out.set((await variables.get(layout.names[i]!)!.data()) as Float32Array, offset);
    offset += layout.sizes[i]!;
  }
  return out;
}

export function assignVariables(net: ReplicaNet, layout: VariableLayout, update: VariableUpdate): void {
  const variables = net.variables();
  let offset = 0;
  for (const i of update.indices) {
    const size = layout.sizes[i]!;
    const value = tf.tensor(update.data.subarray(offset, offset + size), [...layout.shapes[i]!]);
    variables.get(layout.names[i]!)!.assign(value);
    value.dispose();
    offset += size;
  }
}

/** The α objective's terms besides L1, read back. */
export interface ShardTerms {
  readonly regulariser: number;
  readonly entropyTerm: number;
  readonly bitops: number;
  readonly penaltyTerm: number;
  readonly latency: number;
  readonly latencyTerm: number;
}

export interface ShardResult {
  /** Gradients of `weight`·L1 (+ the α regularisers when asked), by variable name; the caller disposes them. */
  readonly grads: Map<string, tf.Tensor>;
  /** The shard's L1, unscaled. */
  readonly l1: number;
  /** The α objective's other terms, when `terms` was given. */
  readonly terms?: ShardTerms;
}

/**
 * One replica's part of a step: the gradient of its shard's L1 scaled by the shard's share of the
 * batch, so that the replicas' gradients sum to the full batch's. The α regularisers depend on α
 * alone: exactly one replica adds them (`terms`), so they count once. Disposes `lr` and `hr`.
 */
export async function shardGradients(
  net: ReplicaNet,
  kind: PhaseKind,
  lr: tf.Tensor4D,
  hr: tf.Tensor4D,
  weight: number,
  terms?: AlphaTerms,
): Promise<ShardResult> {
  const trained = kind === 'alpha' ? net.alphaVariables() : net.weightVariables();
  let l1: tf.Scalar | undefined;
  let parts: ReturnType<typeof alphaObjective> | undefined;
  const { value, grads } = tf.variableGrads(() => {
    l1 = tf.keep(reconstructionL1(net, lr, hr));
    const scaled = tf.mul(l1, weight) as tf.Scalar;
    if (!terms) return scaled;
    if (!('expectedBitops' in net)) throw new Error('α terms need a supernet replica');
    parts = alphaObjective(net as Supernet, scaled, terms);
    for (const t of [parts.regulariser, parts.entropyTerm, parts.bitops, parts.penaltyTerm, parts.latency, parts.latencyTerm]) tf.keep(t);
    return parts.total;
  }, [...trained.values()]);
  tf.dispose([lr, hr]);
  // A variable unused by this forward (a skipped op) gets no gradient.
  const named = gradientsByName(trained, grads);
  const read = async (t: tf.Tensor) => (await t.data())[0]!;
  const result: ShardResult = {
    grads: named,
    l1: await read(l1!),
    ...(parts
      ? {
          terms: {
            regulariser: await read(parts.regulariser),
            entropyTerm: await read(parts.entropyTerm),
            bitops: await read(parts.bitops),
            penaltyTerm: await read(parts.penaltyTerm),
            latency: await read(parts.latency),
            latencyTerm: await read(parts.latencyTerm),
          },
        }
      : {}),
  };
  tf.dispose([value, l1!]);
  if (parts) tf.dispose([parts.regulariser, parts.entropyTerm, parts.bitops, parts.penaltyTerm, parts.latency, parts.latencyTerm]);
  return result;
}

/** Packs gradients by layout index (ascending) and disposes them. */
export async function packGradients(layout: VariableLayout, grads: Map<string, tf.Tensor>): Promise<{ indices: number[]; data: Float32Array }> {
  const indices = layout.names.flatMap((n, i) => (grads.has(n) ? [i] : []));
  const data = new Float32Array(indices.reduce((s, i) => s + layout.sizes[i]!, 0));
  let offset = 0;
  for (const i of indices) {
    const g = grads.get(layout.names[i]!)!;
    data.set((await g.data()) as Float32Array, offset);
    offset += layout.sizes[i]!;
  }
  tf.dispose([...grads.values()]);
  return { indices, data };
}
