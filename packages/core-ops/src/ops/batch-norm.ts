import type { ForwardContext, Module } from '../module.js';
import { tf } from '../tf.js';
import { assertChannels, assertPositiveInteger, variableFrom } from './checks.js';

export interface BatchNormConfig {
  /** Dotted path; variables are `${name}.gamma`, `.beta`, `.runningMean`, `.runningVar`. */
  readonly name: string;
  readonly channels: number;
  /** Weight of the current batch in the running statistics (PyTorch's convention). */
  readonly momentum: number;
  readonly epsilon: number;
}

/**
 * Batch normalisation over (N, H, W) per channel, with PyTorch's semantics: training normalises
 * with the batch mean and biased variance and moves the running statistics towards the batch
 * (variance unbiased, ×n/(n−1)); inference uses the running statistics.
 *
 * The running statistics are non-trainable variables updated by `assign` during a training
 * forward pass. That is safe inside `tf.grad`/`variableGrads`/`optimizer.minimize`: the update
 * ops do not lie on a path to the loss, so the backward pass never visits them, and a variable
 * keeps its assigned value when the surrounding tidy scope is released. Each training forward
 * updates the statistics once (as in PyTorch), so a step that runs the forward twice updates twice.
 */
export interface BatchNorm extends Module {
  readonly name: string;
  readonly channels: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly gamma: tf.Variable<tf.Rank.R1>;
  readonly beta: tf.Variable<tf.Rank.R1>;
  readonly runningMean: tf.Variable<tf.Rank.R1>;
  readonly runningVar: tf.Variable<tf.Rank.R1>;
  /** The inference-mode affine map y = x·scale + shift as tensors (the caller disposes them). */
  evalAffine(): { scale: tf.Tensor1D; shift: tf.Tensor1D };
}

export function createBatchNorm(config: BatchNormConfig): BatchNorm {
  const { name, channels, momentum, epsilon } = config;
  const where = `batch norm '${name}'`;
  assertPositiveInteger(where, 'channels', channels);
  if (!(momentum >= 0 && momentum <= 1)) throw new Error(`${where}: momentum must lie in [0, 1], got ${momentum}`);
  if (!(epsilon > 0)) throw new Error(`${where}: epsilon must be positive, got ${epsilon}`);
  const gamma = variableFrom(tf.ones([channels]) as tf.Tensor1D, true);
  const beta = variableFrom(tf.zeros([channels]) as tf.Tensor1D, true);
  const runningMean = variableFrom(tf.zeros([channels]) as tf.Tensor1D, false);
  const runningVar = variableFrom(tf.ones([channels]) as tf.Tensor1D, false);

  // One formula for inference and for folding, so that foldBatchNorm reproduces eval exactly.
  const evalAffine = () =>
    tf.tidy(() => {
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, epsilon))) as tf.Tensor1D;
      const shift = tf.sub(beta, tf.mul(runningMean, scale)) as tf.Tensor1D;
      return { scale, shift };
    });

  return {
    name,
    channels,
    momentum,
    epsilon,
    gamma,
    beta,
    runningMean,
    runningVar,
    evalAffine,
    apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
      assertChannels(where, x, channels);
      if (!ctx.training) {
        return tf.tidy(() => {
          const { scale, shift } = evalAffine();
          return tf.add(tf.mul(x, scale), shift);
        });
      }
      const [n, h, w] = x.shape;
      const count = n * h * w;
      if (count < 2) throw new Error(`${where}: training needs more than one value per channel, got a ${n}×${h}×${w} batch`);
      return tf.tidy(() => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
        runningMean.assign(tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(mean, momentum)) as tf.Tensor1D);
        runningVar.assign(tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(variance, (momentum * count) / (count - 1))) as tf.Tensor1D);
        return y as tf.Tensor4D;
      });
    },
    variables() {
      return new Map<string, tf.Variable>([
        [`${name}.gamma`, gamma],
        [`${name}.beta`, beta],
        [`${name}.runningMean`, runningMean],
        [`${name}.runningVar`, runningVar],
      ]);
    },
    dispose() {
      for (const v of [gamma, beta, runningMean, runningVar]) v.dispose();
    },
  };
}

/**
 * The per-channel affine map that BN computes at inference: BN_eval(x) = x·scale + shift, computed
 * by the same ops as the inference forward pass (so equal to it bit for bit on one backend).
 *
 * Where it goes at export: in ADQ (and wherever BN feeds a conv through an activation quantizer)
 * a ReLU/quantizer sits between BN and the next conv, so folding into that conv's weights is not
 * exact (relu(x·s + t)·W ≠ relu(x)·(s·W) + …). It folds exactly into the activation quantizer's
 * input instead: the quantizer sees x·scale + shift, i.e. a per-channel affine requantization.
 */
export async function foldBatchNorm(bn: BatchNorm): Promise<{ scale: Float32Array; shift: Float32Array }> {
  const { scale, shift } = bn.evalAffine();
  try {
    return { scale: Float32Array.from(await scale.data()), shift: Float32Array.from(await shift.data()) };
  } finally {
    scale.dispose();
    shift.dispose();
  }
}
