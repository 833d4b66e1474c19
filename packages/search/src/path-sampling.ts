import { hashSeed, tf } from '@quantnas/core-ops';
import { createRng } from '@quantnas/data';
import type { Genotype, Supernet } from '@quantnas/search-spaces';
import type { PathSampling } from './config.js';
import { assignPath, saveAlphas } from './derive.js';

/** The path a path-sampled w step trains: one pair per α group, uniform, drawn from the seed and the step. */
export function drawnPath(net: Supernet, seed: number, step: number): Genotype {
  const rng = createRng(hashSeed(seed, `path.${step}`));
  const blocks = Object.fromEntries(net.alphas().map((a) => [a.id, a.pairs[rng.int(a.pairs.length)]!]));
  return { schemaVersion: 1, space: net.plan.id, scale: net.plan.scale, channels: net.plan.channels, blocks };
}

/** Fixes α to the step's drawn path for one w step; `restore` puts the trained α back. */
export async function samplePath(net: Supernet, seed: number, step: number): Promise<{ restore(): Promise<void> }> {
  const saved = saveAlphas(net);
  await assignPath(net, drawnPath(net, seed, step));
  return {
    async restore() {
      await saved.put();
      saved.dispose();
    },
  };
}

/** Whether the w step of this epoch trains a drawn path instead of the mixture. */
export function samplesPath(sampling: PathSampling, epoch: number, warmupEpochs: number): boolean {
  return sampling === 'all' || (sampling === 'warmup' && epoch < warmupEpochs);
}

/** Training forwards to replay: each the mixture (`null`) or the search step whose drawn path it ran. */
export interface ForwardReplay {
  readonly seed: number;
  readonly forwards: readonly (number | null)[];
}

/**
 * The training forwards a search made in its first `steps` steps, in order: per step the α step's
 * (after the warm-up; the mixture) and the w step's (the mixture, or the step's drawn path).
 */
export function searchForwards(o: {
  readonly seed: number;
  readonly steps: number;
  readonly stepsPerEpoch: number;
  readonly warmupEpochs: number;
  readonly pathSampling: PathSampling;
}): ForwardReplay {
  const forwards: (number | null)[] = [];
  for (let step = 0; step < o.steps; step++) {
    const epoch = Math.floor(step / o.stepsPerEpoch);
    if (epoch >= o.warmupEpochs) forwards.push(null);
    forwards.push(samplesPath(o.pathSampling, epoch, o.warmupEpochs) ? step : null);
  }
  return { seed: o.seed, forwards };
}

/**
 * Replays a search's training forwards on a fresh supernet (one-patch batches of zeros), so that
 * its noise and Gumbel draws, numbered per forward and per conv, continue where the search's
 * stopped: a path forward draws only for the path's ops, so the paths are replayed too. α is put
 * back afterwards; the caller then writes the checkpoint's variables, which undo the rest (BN
 * running statistics).
 */
export async function replayForwards(net: Supernet, replay: ForwardReplay, lrPatchSize: number): Promise<void> {
  const saved = saveAlphas(net);
  const x = tf.zeros([1, lrPatchSize, lrPatchSize, 3]) as tf.Tensor4D;
  let onPath = false;
  try {
    for (const step of replay.forwards) {
      if (step !== null) {
        await assignPath(net, drawnPath(net, replay.seed, step));
        onPath = true;
      } else if (onPath) {
        await saved.put();
        onPath = false;
      }
      const y = net.apply(x, { training: true });
      await y.data();
      y.dispose();
    }
  } finally {
    x.dispose();
    await saved.put();
    saved.dispose();
  }
}
