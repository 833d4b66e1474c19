import { tf } from '@quantnas/core-ops';
import type { Supernet } from '@quantnas/search-spaces';
import type { Adam } from './adam.js';
import type { StoredTensor } from './checkpoint.js';
import { assignStoredVariables } from './job.js';
import { SearchError, type SearchConfig } from './config.js';
import { replayForwards, searchForwards, type ForwardReplay } from './path-sampling.js';
import type { LoopState } from './search-types.js';

/** A new search's state: nothing done yet. */
export function initialLoopState(config: SearchConfig): LoopState {
  return {
    config,
    step: 0,
    alphaSteps: 0,
    trainingForwards: 0,
    b0: null,
    best: null,
    last: null,
    epochSums: { wLoss: 0, alphaLoss: 0, wCount: 0, alphaCount: 0 },
    seconds: 0,
    logBytes: 0,
    wAdamSteps: 0,
    alphaAdamSteps: 0,
  };
}

/**
 * The training forwards a resumed search replays (path-sampling.ts) so that the supernet's noise
 * and Gumbel draws continue where they stopped; null when its forwards draw nothing.
 */
export function replayOf(config: SearchConfig, state: LoopState, stepsPerEpoch: number): ForwardReplay | null {
  if (config.mode !== 'noise' && config.selector !== 'gumbel') return null;
  const replay = searchForwards({
    seed: config.seed,
    steps: state.step,
    stepsPerEpoch,
    warmupEpochs: config.warmupEpochs,
    pathSampling: config.pathSampling ?? 'none',
  });
  if (replay.forwards.length !== state.trainingForwards) {
    throw new SearchError(
      `the checkpoint counts ${state.trainingForwards} training forwards where its ${state.step} steps make ${replay.forwards.length}: it was written with other settings`,
    );
  }
  return replay;
}

/**
 * Brings a fresh supernet and the optimisers to a checkpoint's state: replays the training
 * forwards first, then writes the variables, which undo what the replay changed (BN running
 * statistics).
 */
export async function restoreSearch(
  net: Supernet,
  wAdam: Adam,
  alphaAdam: Adam,
  tensors: ReadonlyMap<string, StoredTensor>,
  state: LoopState,
  replay: ForwardReplay | null,
  lrPatchSize: number,
): Promise<void> {
  if (replay) await replayForwards(net, replay, lrPatchSize);
  assignStoredVariables(net.variables(), tensors, {
    source: 'the checkpoint',
    network: 'supernet',
    hint: 'it was written by a different version or space',
    error: SearchError,
  });
  const wState = new Map<string, tf.Tensor>();
  const alphaState = new Map<string, tf.Tensor>();
  try {
    for (const [key, stored] of tensors) {
      const slash = key.indexOf('/');
      const kind = key.slice(0, slash);
      if (kind === 'adam.w' || kind === 'adam.alpha')
        (kind === 'adam.w' ? wState : alphaState).set(key.slice(slash + 1), tf.tensor(stored.data, [...stored.shape]));
    }
    wAdam.load(state.wAdamSteps, wState);
    alphaAdam.load(state.alphaAdamSteps, alphaState);
  } finally {
    tf.dispose([...wState.values(), ...alphaState.values()]);
  }
  await net.updateSkippedOps();
}
