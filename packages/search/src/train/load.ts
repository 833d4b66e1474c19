import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DiscreteNetwork } from '@quantnas/search-spaces';
import { loadLatestCheckpoint } from '../checkpoint.js';
import { TrainError } from './config.js';
import { buildNetwork, initialiseQuantizers, loadVariables } from './network.js';
import { trainFiles } from './train.js';
import type { StoredTarget, TrainState } from './train-types.js';

export interface TrainedNetwork {
  readonly network: DiscreteNetwork;
  readonly target: StoredTarget;
  /** The checkpoint file that was read. */
  readonly path: string;
  /** The epoch and step the weights are from, and their validation PSNR (best checkpoint). */
  readonly epoch: number | null;
  readonly step: number;
  readonly validationPsnr: number | null;
}

/**
 * The QAT network of a training directory with the weights of its best-validation checkpoint
 * (`best.qnc`, or its `.prev` copy if that one is damaged), or of its newest one (`last`).
 * The caller disposes `network`.
 */
export async function loadTrainedNetwork(dir: string, options: { readonly checkpoint?: 'best' | 'last' } = {}): Promise<TrainedNetwork> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new TrainError(`${root}: not a training directory`);
  const files = trainFiles(root);
  const which = options.checkpoint ?? 'best';
  const loaded = loadLatestCheckpoint<TrainState>(which === 'best' ? files.best : files.checkpoint);
  if (!loaded) {
    throw new TrainError(
      `${root}: no ${which === 'best' ? 'best checkpoint (best.qnc; written at the end of the first epoch)' : 'checkpoint (checkpoint.qnc)'}; is it a training directory?`,
    );
  }
  const state = loaded.state;
  if (state?.kind !== 'quantnas-train' || !state.target) throw new TrainError(`${loaded.path} is not a training checkpoint`);
  const network = buildNetwork(state.target);
  try {
    // Loaded first, then the first forward: LSQ weight steps that crossed zero in training are
    // re-initialised from their weights here, as the exporter accepts only positive steps. (A
    // resumed training run restores them as they are: restoreVariables.)
    loadVariables(network, loaded.tensors, loaded.path);
    await initialiseQuantizers(network, state.config.lrPatchSize);
  } catch (error) {
    network.dispose();
    throw error;
  }
  const record = which === 'best' ? state.best : state.last;
  return {
    network,
    target: state.target,
    path: loaded.path,
    epoch: record?.epoch ?? null,
    step: state.step,
    validationPsnr: record?.validationPsnr ?? null,
  };
}
