import { runWgslElementwise, runWgslReduction, type tf, type WebGpuBackendLike, type WgslUniform } from '@quantnas/core-ops';
import type { NoiseMixAttrs } from './noise-mix-attrs.js';
import { noiseKey } from './unit-noise.js';

// The noise mix's kernels in WGSL: the same counter-based ξ (unit-noise.ts's hash, in u32
// arithmetic, so uniform ξ is bit-identical; Gaussian ξ goes through f32 log and cos), the mixing
// weights computed in the shaders from p, and the range max u − min u a reduction of its own.

type TensorInfo = tf.TensorInfo;

const HASH = `
fn mix32(x : u32) -> u32 {
  var h = x;
  h = h ^ (h >> 16u);
  h = h * 0x85ebca6bu;
  h = h ^ (h >> 13u);
  h = h * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  return h;
}
fn uniformAt(key : u32, i : u32) -> f32 {
  let h = mix32(key + i * 0x9e3779b9u);
  return f32(i32(2u * (h >> 8u) + 1u) - 0x1000000) / 33554432.0;
}
fn gaussianAt(key : u32, i : u32) -> f32 {
  let u1 = uniformAt(key, 2u * i) + 0.5;
  let u2 = uniformAt(key ^ 0x5bd1e995u, 2u * i + 1u) + 0.5;
  return 0.5 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}`;

/** The noisy bit-widths that draw ξ (none without noise): index in `bits`, key and 1/(2^b − 1). */
function noisyOf(at: NoiseMixAttrs): { b: number; key: number; inv: number }[] {
  if (!at.noise) return [];
  return at.bits.flatMap((bits, b) => (bits === 32 ? [] : [{ b, key: noiseKey(at.seeds[b]!), inv: 1 / (2 ** bits - 1) }]));
}

function checkSlice(p: TensorInfo, at: NoiseMixAttrs): void {
  const n = at.bits.length;
  if (at.offset < 0 || at.offset + n > p.shape[0]!)
    throw new Error(`noise mix: probabilities ${at.offset}..${at.offset + n - 1} lie outside a vector of ${p.shape[0]}`);
}

/** Uniforms and WGSL shared by the kernels: `xiJ(i)`, `uAt(v)`, and `mixZ()`, `mixF`, `mixSum()`. */
function common(at: NoiseMixAttrs, count: number): { uniforms: WgslUniform[]; helpers: string; key: string } {
  const noisy = noisyOf(at).slice(0, count);
  const n = at.bits.length;
  const uniforms: WgslUniform[] = [
    { name: 'offset', type: 'i32', value: at.offset },
    { name: 'mixF', type: 'f32', value: 1 / (n + 1) },
    ...noisy.flatMap((x, j): WgslUniform[] => [
      { name: `key${j}`, type: 'u32', value: x.key },
      { name: `inv${j}`, type: 'f32', value: x.inv },
      { name: `bit${j}`, type: 'i32', value: x.b },
    ]),
  ];
  const xi = at.kind === 'uniform' ? 'uniformAt' : 'gaussianAt';
  const helpers = `
const NBITS : i32 = ${n};
${count > 0 ? HASH : ''}
${noisy.map((_, j) => `fn xi${j}(i : i32) -> f32 { return ${xi}(uniforms.key${j}, u32(i)); }`).join('\n')}
fn uAt(v : f32) -> f32 { return ${at.relu ? 'max(v, 0.0)' : 'v'}; }
fn mixSum() -> f32 {
  var s = 0.0;
  for (var b = 0; b < NBITS; b = b + 1) { s = s + p[uniforms.offset + b]; }
  return s;
}
fn mixZ() -> f32 { return mixSum() + uniforms.mixF; }`;
  return { uniforms, helpers, key: `${n}_${count}_${at.kind}_${at.relu}` };
}

/** [max t, max −t] (the range's inputs), one workgroup each. */
function extremes(backend: WebGpuBackendLike, t: TensorInfo): TensorInfo {
  return runWgslReduction(backend, {
    key: 'noise_mix_extremes',
    inputs: { t },
    outputShape: [2],
    uniforms: [{ name: 'count', type: 'i32', value: t.shape.reduce((a, d) => a * d, 1) }],
    combine: 'max',
    init: 'select(-t[0], t[0], outIndex == 0)',
    accumulate: `let sgn = select(-1.0, 1.0, outIndex == 0);
    for (var i = lane; i < uniforms.count; i = i + REDUCE_LANES) { acc = max(acc, sgn * t[i]); }`,
  });
}

/** WGSL: the range max u − min u from `ext` ([max t, max −t]). */
const rangeOf = (relu: boolean) => (relu ? '(max(ext[0], 0.0) - max(-ext[1], 0.0))' : '(ext[0] + ext[1])');

export function noiseMixWebGpu(backend: WebGpuBackendLike, [t, p]: readonly TensorInfo[], attrs: tf.NamedAttrMap): TensorInfo[] {
  const at = attrs as unknown as NoiseMixAttrs;
  checkSlice(p!, at);
  const size = t!.shape.reduce((a, d) => a * d, 1);
  const count = size === 0 ? 0 : noisyOf(at).length;
  const { uniforms, helpers, key } = common(at, count);
  const ext = count > 0 ? extremes(backend, t!) : null;
  const noise = Array.from({ length: count }, (_, j) => ` + range * p[uniforms.offset + uniforms.bit${j}] / z * uniforms.inv${j} * xi${j}(index)`).join('');
  const out = runWgslElementwise(backend, {
    key: `noise_mix_${key}`,
    inputs: ext ? { t: t!, p: p!, ext } : { t: t!, p: p! },
    outputShape: t!.shape,
    uniforms,
    helpers,
    body: `let z = mixZ();
    let scale = uniforms.mixF + mixSum() / z;
    ${ext ? `let range = ${rangeOf(at.relu)};` : ''}
    setOutputAtIndex(index, scale * uAt(t[index])${noise});`,
  });
  if (ext) backend.disposeData(ext.dataId);
  return [out];
}

export function noiseMixGradInputWebGpu(backend: WebGpuBackendLike, [dy, t, p]: readonly TensorInfo[], attrs: tf.NamedAttrMap): TensorInfo[] {
  const at = attrs as unknown as NoiseMixAttrs;
  checkSlice(p!, at);
  const { uniforms, helpers, key } = common(at, 0);
  const g = at.through || !at.noise ? 'uniforms.mixF + mixSum() / mixZ()' : 'uniforms.mixF';
  // A shader binds only what it reads: t only for the ReLU mask, p only for the mixing weights.
  const usesP = at.through || !at.noise;
  const inputs: Record<string, TensorInfo> = { dy: dy! };
  if (at.relu) inputs['t'] = t!;
  if (usesP) inputs['p'] = p!;
  return [
    runWgslElementwise(backend, {
      key: `noise_mix_grad_input_${key}_${usesP}`,
      inputs,
      outputShape: t!.shape,
      uniforms,
      helpers: usesP ? helpers : '',
      body: `let g = ${g};
    setOutputAtIndex(index, ${at.relu ? 'select(0.0, g * dy[index], t[index] > 0.0)' : 'g * dy[index]'});`,
    }),
  ];
}

export function noiseMixGradProbWebGpu(backend: WebGpuBackendLike, [dy, t, p]: readonly TensorInfo[], attrs: tf.NamedAttrMap): TensorInfo[] {
  const at = attrs as unknown as NoiseMixAttrs;
  checkSlice(p!, at);
  const size = t!.shape.reduce((a, d) => a * d, 1);
  const count = size === 0 ? 0 : noisyOf(at).length;
  const { uniforms, helpers, key } = common(at, count);
  const hashOnly = helpers.replace(/fn mixSum[\s\S]*$/, '');
  // sums[0] = Σ dy·u, sums[1 + j] = Σ dy·ξ_j.
  const loops = [
    `if (outIndex == 0) { for (var i = lane; i < uniforms.count; i = i + REDUCE_LANES) { acc = acc + dy[i] * uAt(t[i]); } }`,
    ...Array.from(
      { length: count },
      (_, j) => `if (outIndex == ${j + 1}) { for (var i = lane; i < uniforms.count; i = i + REDUCE_LANES) { acc = acc + dy[i] * xi${j}(i); } }`,
    ),
  ].join(' else ');
  const sums = runWgslReduction(backend, {
    key: `noise_mix_sums_${key}`,
    inputs: { dy: dy!, t: t! },
    outputShape: [1 + count],
    uniforms: [...uniforms.filter((u) => u.name !== 'offset' && u.name !== 'mixF'), { name: 'count', type: 'i32', value: size }],
    helpers: hashOnly,
    accumulate: loops,
  });
  const ext = count > 0 ? extremes(backend, t!) : null;
  const gb = Array.from({ length: count }, (_, j) => `if (b == uniforms.bit${j}) { v = v + range * uniforms.inv${j} * sums[${j + 1}]; }`).join('\n      ');
  const dp = runWgslElementwise(backend, {
    key: `noise_mix_grad_prob_${key}`,
    inputs: ext ? { p: p!, sums, ext } : { p: p!, sums },
    outputShape: p!.shape,
    uniforms,
    helpers: `${helpers}
fn gradOf(b : i32) -> f32 {
  var v = sums[0];
  ${ext ? `let range = ${rangeOf(at.relu)};` : ''}
  ${gb}
  return v;
}`,
    body: `let z = mixZ();
    var weighted = 0.0;
    for (var b = 0; b < NBITS; b = b + 1) { weighted = weighted + gradOf(b) * p[uniforms.offset + b]; }
    let b = index - uniforms.offset;
    var v = 0.0;
    if (b >= 0 && b < NBITS) { v = gradOf(b) / z - weighted / (z * z); }
    setOutputAtIndex(index, v);`,
  });
  backend.disposeData(sums.dataId);
  if (ext) backend.disposeData(ext.dataId);
  return [dp];
}
