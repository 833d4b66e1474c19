// The fixed net every backend is timed on: 3→32 conv3×3, four residual blocks x + relu(conv3×3(x)),
// 32→48 conv3×3, pixel shuffle ×4 to 3 channels; convs without bias, as in the search's ops. Small
// and all 3×3 convs, the shape of the nets the search produces, so its training throughput
// predicts theirs.
import { tf } from '../tf.js';
import type { ForwardContext, Module } from '../module.js';
import { pixelShuffle } from '../ops/pixel-shuffle.js';

export const REFERENCE_NET = {
  scale: 4,
  width: 32,
  blocks: 4,
  /** MACs per LR pixel: 9·3·32 + 4·9·32·32 + 9·32·48. */
  macsPerLrPixel: 9 * 3 * 32 + 4 * 9 * 32 * 32 + 9 * 32 * 48,
} as const;

/** Deterministic weights (He-uniform from a seeded generator) so every backend trains the same net. */
export function createReferenceNet(seed = 1): Module {
  const { width, blocks, scale } = REFERENCE_NET;
  const vars = new Map<string, tf.Variable>();
  const conv = (name: string, cin: number, cout: number, gain = 1) => {
    const bound = gain * Math.sqrt(6 / (9 * cin));
    const init = tf.randomUniform([3, 3, cin, cout], -bound, bound, 'float32', seed + vars.size);
    // Unnamed in tfjs' registry, so that several nets can coexist.
    vars.set(`${name}.weight`, tf.variable(init, true));
    init.dispose(); // The variable holds its own reference to the buffer.
  };
  conv('head', 3, width);
  // Residual branches start small so the untrained net's activations stay in range.
  for (let b = 0; b < blocks; b++) conv(`body${b}`, width, width, 0.1);
  conv('tail', width, 3 * scale * scale);
  const apply3x3 = (name: string, x: tf.Tensor4D) => tf.conv2d(x, vars.get(`${name}.weight`) as tf.Tensor4D, 1, 'same');
  return {
    apply(x: tf.Tensor4D, _ctx: ForwardContext): tf.Tensor4D {
      return tf.tidy(() => {
        let h = apply3x3('head', x);
        for (let b = 0; b < blocks; b++) h = tf.add(h, tf.relu(apply3x3(`body${b}`, h)));
        return pixelShuffle(apply3x3('tail', h), scale);
      });
    },
    variables: () => vars,
    dispose() {
      for (const v of vars.values()) v.dispose();
      vars.clear();
    },
  };
}
