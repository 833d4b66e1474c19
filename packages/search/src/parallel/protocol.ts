import type { BackendName } from '@quantnas/core-ops';
import type { DiscreteNetworkOptions, Genotype, SearchSpaceSpec, SupernetOptions } from '@quantnas/search-spaces';
import type { ForwardReplay } from '../path-sampling.js';
import type { AlphaStepOptions } from '../steps.js';

/** How to build a replica of the coordinator's network: the search's supernet, or a genotype's network for training. */
export type ReplicaNetwork =
  | { readonly kind: 'supernet'; readonly spec: SearchSpaceSpec; readonly options: SupernetOptions }
  | { readonly kind: 'discrete'; readonly spec: SearchSpaceSpec; readonly genotype: Genotype; readonly options: DiscreteNetworkOptions };

/** What a replica needs to build the coordinator's network. */
export interface ReplicaInit {
  readonly type: 'init';
  readonly backend: BackendName;
  readonly network: ReplicaNetwork;
  /** A supernet's training forwards to replay, so that the replica's noise and Gumbel draws match the coordinator's. */
  readonly replay: ForwardReplay | null;
  readonly lrPatchSize: number;
}

/** Variables to overwrite, packed back to back in `layout` order (a subset, by index). */
export interface VariableUpdate {
  readonly indices: readonly number[];
  readonly data: Float32Array;
}

export type PhaseKind = 'alpha' | 'w';

export interface PhaseRequest {
  readonly type: 'phase';
  readonly kind: PhaseKind;
  /** Assigned before the forward; then the skip set is refreshed when α changed. */
  readonly update: VariableUpdate | null;
  readonly refreshSkipped: boolean;
  readonly lr: Float32Array;
  readonly lrShape: [number, number, number, number];
  readonly hr: Float32Array;
  readonly hrShape: [number, number, number, number];
  /** This shard's share of the batch: its loss is scaled by it so that shard gradients sum to the batch's. */
  readonly weight: number;
}

export interface ShutdownRequest {
  readonly type: 'shutdown';
}

export type CoordinatorMessage = ReplicaInit | PhaseRequest | ShutdownRequest;

/** Name, shape and role of each supernet variable, in the order every packed buffer uses. */
export interface VariableLayout {
  readonly names: readonly string[];
  readonly sizes: readonly number[];
  readonly shapes: readonly (readonly number[])[];
}

export interface ReadyReply {
  readonly type: 'ready';
  readonly layout: VariableLayout;
}

export interface PhaseReply {
  readonly type: 'phase';
  /** Indices (into the layout) of the variables that got a gradient, and the gradients packed. */
  readonly gradIndices: readonly number[];
  readonly grads: Float32Array;
  /** The non-trained variables after the forward (batch-norm running statistics), packed. */
  readonly state: Float32Array;
  /** The shard's L1, unscaled. */
  readonly l1: number;
  /** Where the replica's time went, in milliseconds (for `DataParallel.profile`). */
  readonly timing: ReplicaTiming;
}

export interface ReplicaTiming {
  /** Assigning the received variables and refreshing the skip set. */
  readonly assign: number;
  /** The shard's forward and backward. */
  readonly compute: number;
  /** Reading the gradients and the batch-norm statistics into the reply. */
  readonly pack: number;
}

export interface ErrorReply {
  readonly type: 'error';
  readonly message: string;
  readonly stack?: string;
}

export type ReplicaMessage = ReadyReply | PhaseReply | ErrorReply;

export type AlphaTerms = Pick<AlphaStepOptions, 'entropy' | 'entropyWeight' | 'penalty' | 'b0' | 'latency'>;
