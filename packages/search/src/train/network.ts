import { tf, type Module } from '@quantnas/core-ops';
import type { PatchBatch } from '@quantnas/data';
import { createDiscreteNetwork, type DiscreteNetwork, type DiscreteNetworkOptions } from '@quantnas/search-spaces';
import type { Adam } from '../adam.js';
import type { StoredTensor } from '../checkpoint.js';
import { COST_INPUT } from '../config.js';
import { assignStoredVariables } from '../job.js';
import { weightStep } from '../steps.js';
import { TrainError } from './config.js';
import type { StoredTarget, TrainCost } from './train-types.js';

/** The QAT network of a stored target, untrained. */
export function buildNetwork(target: StoredTarget, kernels: 'fused' | 'reference' = 'fused'): DiscreteNetwork {
  return createDiscreteNetwork(target.spec, target.genotype, networkOptions(target, kernels));
}

export function networkOptions(target: StoredTarget, kernels: 'fused' | 'reference'): DiscreteNetworkOptions {
  return { mode: 'qat', adq: target.adq, seed: target.seed, cells: target.cells, kernels };
}

/** Cost figures of a network at 32×32 LR (the literature's size) and per output megapixel. */
export function networkCost(net: DiscreteNetwork): TrainCost {
  const report = net.costReport(COST_INPUT);
  return {
    params: report.total.params,
    macsPerPixel: report.total.macs / (COST_INPUT.height * COST_INPUT.width),
    bitops32x32: report.total.bitops,
    bitopsPerOutputMegapixel: report.perOutputMegapixel.bitops,
    macsPerOutputMegapixel: report.perOutputMegapixel.macs,
    costInput: COST_INPUT,
  };
}

/** Writes a checkpoint's `var/…` tensors into the network's variables; every variable must be there, with its shape. */
export function loadVariables(net: Module, tensors: ReadonlyMap<string, StoredTensor>, source: string): void {
  assignStoredVariables(net.variables(), tensors, { source, network: 'network', hint: 'it belongs to another genotype or space', error: TrainError });
}

/**
 * Puts a checkpoint's variables into a freshly built network so that it computes exactly what the
 * network that wrote them computed. The quantizers' first forward runs before the values are
 * loaded: it initialises every LSQ step that is not positive from the weights, and a trained step
 * may have crossed zero (LSQ does not constrain its sign), so loading first would let that forward
 * replace trained steps and the resumed or exported network would differ.
 */
export async function restoreVariables(net: Module, tensors: ReadonlyMap<string, StoredTensor>, source: string, size: number): Promise<void> {
  await initialiseQuantizers(net, size);
  loadVariables(net, tensors, source);
}

/** One inference forward on a blank patch: sets LSQ steps that are not yet positive from the weights. */
export async function initialiseQuantizers(net: Module, size: number): Promise<void> {
  const x = tf.zeros([1, size, size, 3]) as tf.Tensor4D;
  const y = net.apply(x, { training: false });
  await y.data();
  tf.dispose([x, y]);
}

/** One Adam step on plain L1 with the gradients clipped to a global norm; returns the loss. */
export function trainStep(net: Module, weights: ReadonlyMap<string, tf.Variable>, adam: Adam, batch: PatchBatch, rate: number, clip: number): Promise<number> {
  return weightStep(net, weights, adam, tf.tensor4d(batch.lr, batch.lrShape), tf.tensor4d(batch.hr, batch.hrShape), rate, clip);
}
