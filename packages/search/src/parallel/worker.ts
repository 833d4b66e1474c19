// A replica in a worker thread: its own tfjs and network (the search's supernet or a genotype's
// network in training), driven by the coordinator (coordinator.ts). It computes its shard's
// gradients; the coordinator owns the optimisers.
import { parentPort } from 'node:worker_threads';
import { initBackend, tf } from '@quantnas/core-ops';
import type { Supernet } from '@quantnas/search-spaces';
import { replayForwards } from '../path-sampling.js';
import type { CoordinatorMessage, PhaseRequest, ReplicaInit, ReplicaMessage, VariableLayout } from './protocol.js';
import { assignVariables, buildReplicaNet, packGradients, packVariables, shardGradients, stateIndices, variableLayout, type ReplicaNet } from './replica.js';

const port = parentPort;
if (!port) throw new Error('a data-parallel replica must run in a worker thread');

let net: ReplicaNet | undefined;
let layout: VariableLayout | undefined;
let state: number[] = [];

const post = (message: ReplicaMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function init(message: ReplicaInit): Promise<void> {
  await initBackend(message.backend);
  net = buildReplicaNet(message.network);
  layout = variableLayout(net);
  state = stateIndices(net, layout);
  // A training network's LSQ steps initialise at its first forward, from the weights it holds,
  // wherever a step is not positive. Run that forward now, before the coordinator's values
  // arrive: a trained step that crossed zero must not be re-initialised when a resumed run sends it.
  if (message.network.kind === 'discrete') {
    const x = tf.zeros([1, message.lrPatchSize, message.lrPatchSize, 3]) as tf.Tensor4D;
    const y = net.apply(x, { training: false });
    await y.data();
    tf.dispose([x, y]);
  }
  // The noise and Gumbel draws are numbered per forward: catch up with the coordinator's.
  if (message.replay && message.network.kind === 'supernet') await replayForwards(net as Supernet, message.replay, message.lrPatchSize);
  post({ type: 'ready', layout });
}

async function phase(message: PhaseRequest): Promise<void> {
  if (!net || !layout) throw new Error('phase before init');
  const t0 = performance.now();
  if (message.update) assignVariables(net, layout, message.update);
  if (message.refreshSkipped) await net.updateSkippedOps();
  const t1 = performance.now();
  const lr = tf.tensor4d(message.lr, message.lrShape);
  const hr = tf.tensor4d(message.hr, message.hrShape);
  const shard = await shardGradients(net, message.kind, lr, hr, message.weight);
  const t2 = performance.now();
  const packed = await packGradients(layout, shard.grads);
  const stateData = await packVariables(net, layout, state);
  const timing = { assign: t1 - t0, compute: t2 - t1, pack: performance.now() - t2 };
  post({ type: 'phase', gradIndices: packed.indices, grads: packed.data, state: stateData, l1: shard.l1, timing }, [
    packed.data.buffer as ArrayBuffer,
    stateData.buffer as ArrayBuffer,
  ]);
}

// Messages are handled one at a time, in order.
let queue = Promise.resolve();
port.on('message', (message: CoordinatorMessage) => {
  queue = queue.then(async () => {
    try {
      if (message.type === 'init') await init(message);
      else if (message.type === 'phase') await phase(message);
      else {
        net?.dispose();
        net = undefined;
        port.close();
      }
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      post({ type: 'error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) });
    }
  });
});
