import { createBatchNorm, tf, variableFrom, type BatchNorm, type ForwardContext, type Module } from '@quantnas/core-ops';
import type { AdqOptions } from './adq-options.js';
import { perSampleDeviationTensor } from './deviation-op.js';

export interface AdqUnitConfig {
  /** Dotted path; the unit's own variables are `${name}.bn.*` and `${name}.phi.slope|offset`. */
  readonly name: string;
  /** The residual body F (it names its own variables). The unit owns it and disposes it. */
  readonly body: Module;
  /** Channels of the unit's input, which F must preserve. */
  readonly channels: number;
  readonly options: AdqOptions;
}

export interface AdqUnit extends Module {
  readonly name: string;
  readonly body: Module;
  readonly enabled: boolean;
  /** Null when ADQ is off. */
  readonly bn: BatchNorm | null;
  readonly slope: tf.Variable<tf.Rank.R0> | null;
  readonly offset: tf.Variable<tf.Rank.R0> | null;
}

/**
 * ADQ residual unit (docs/method.md §5). On: `out = F(BN(x)) · φ(σ(x)) + x` with φ(σ) = a·σ + c
 * (learned scalars) and σ the per-sample deviation of x over (H, W, C); off: `out = F(x) + x`.
 * σ is taken on the unit's input before BN, per sample: in training and inference alike it
 * depends on the whole image, so a tiled runtime must compute it over the untiled input.
 */
export function createAdqUnit(config: AdqUnitConfig): AdqUnit {
  const { name, body, channels, options } = config;
  const where = `ADQ unit '${name}'`;
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`${where}: channels must be a positive integer, got ${channels}`);
  if (!Number.isFinite(options.initSlope) || !Number.isFinite(options.initOffset)) {
    throw new Error(`${where}: initSlope and initOffset must be finite, got ${options.initSlope} and ${options.initOffset}`);
  }
  if (options.sigmaCorrection !== 0 && options.sigmaCorrection !== 1) {
    throw new Error(`${where}: sigmaCorrection must be 0 or 1, got ${String(options.sigmaCorrection)}`);
  }
  const enabled = options.enabled;
  const bn = enabled ? createBatchNorm({ name: `${name}.bn`, channels, momentum: options.bnMomentum, epsilon: options.bnEpsilon }) : null;
  const slope = enabled ? variableFrom(tf.scalar(options.initSlope), true) : null;
  const offset = enabled ? variableFrom(tf.scalar(options.initOffset), true) : null;

  // Collected on every call: a body's quantizers may create their variables lazily.
  const collect = (): Map<string, tf.Variable> => {
    const all = new Map<string, tf.Variable>(body.variables());
    const own: [string, tf.Variable][] = bn ? [...bn.variables()] : [];
    if (slope && offset) own.push([`${name}.phi.slope`, slope], [`${name}.phi.offset`, offset]);
    for (const [key, v] of own) {
      if (all.has(key)) throw new Error(`${where}: two variables are named '${key}' (give the body a different name)`);
      all.set(key, v);
    }
    return all;
  };
  try {
    collect();
  } catch (error) {
    bn?.dispose();
    slope?.dispose();
    offset?.dispose();
    throw error;
  }

  return {
    name,
    body,
    enabled,
    bn,
    slope,
    offset,
    apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
      if (x.rank !== 4 || x.shape[3] !== channels) {
        throw new Error(`${where}: expected ${channels} input channels, got shape [${x.shape.join(', ')}]`);
      }
      return tf.tidy(() => {
        const residual = bn ? body.apply(bn.apply(x, ctx), ctx) : body.apply(x, ctx);
        if (residual.shape.some((d, i) => d !== x.shape[i])) {
          throw new Error(`${where}: the body maps [${x.shape.join(', ')}] to [${residual.shape.join(', ')}]; a residual needs the same shape`);
        }
        if (!slope || !offset) return tf.add(residual, x);
        const phi = tf.add(tf.mul(perSampleDeviationTensor(x, options.sigmaCorrection), slope), offset);
        return tf.add(tf.mul(residual, phi), x);
      });
    },
    variables: collect,
    dispose() {
      body.dispose();
      bn?.dispose();
      slope?.dispose();
      offset?.dispose();
    },
  };
}
