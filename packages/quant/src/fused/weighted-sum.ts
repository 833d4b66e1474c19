import { tf } from '@quantnas/core-ops';
import {
  registerFusedGradient,
  registerFusedKernel,
  runFused,
  runWgslElementwise,
  runWgslReduction,
  type FusedKernel,
  type WgslUniform,
} from '@quantnas/core-ops';
import { simdKernels, type SimdKernels } from './simd.js';

// y = Σ_j w_j·y_j with weights read from a probability vector p, in one kernel (and one backward
// kernel per input). Two weightings:
// - `opTotal`: w_j = P_k = Σ_{b<n} p[k·n + b] with k = terms[j]: a mixed op's output, each op
//   weighted by its total probability over its bit-widths (docs/method.md §2);
// - `normalized`: w_j = p[offset + j] / Σ_{b<m} p[offset + b]: direct quantization's mix of the
//   per-bit-width quantized copies (docs/method.md §4.3).

export interface WeightedSumAttrs {
  readonly weighting: 'opTotal' | 'normalized';
  /** `opTotal`: the op index k of each term; `normalized`: unused (term j is bit j). */
  readonly terms: readonly number[];
  /** `opTotal`: bit-widths per op (n). */
  readonly perOp: number;
  /** `normalized`: index in p of the first bit-width. */
  readonly offset: number;
}

type Attrs = tf.NamedAttrMap;
const attrsOf = (a: Attrs) => a as unknown as WeightedSumAttrs;
// The forward kernel takes its inputs as an array (tfjs saves variadic inputs only from arrays):
// terms at indices 0..m−1, p at index m.
const forwardNames = (a: Attrs) => [...attrsOf(a).terms.map((_, j) => String(j)), String(attrsOf(a).terms.length)];
const termNames = (a: Attrs) => attrsOf(a).terms.map((_, j) => `y${j}`);

function checkSlice(p: Float32Array, start: number, count: number): void {
  if (start < 0 || start + count > p.length) throw new Error(`weighted sum: probabilities ${start}..${start + count - 1} lie outside a vector of ${p.length}`);
}

/** The weight of each term, and the normaliser (1 for `opTotal`). */
function weightsOf(p: Float32Array, at: WeightedSumAttrs): { w: Float64Array; total: number } {
  const m = at.terms.length;
  const w = new Float64Array(m);
  if (at.weighting === 'opTotal') {
    at.terms.forEach((k, j) => {
      checkSlice(p, k * at.perOp, at.perOp);
      let s = 0;
      for (let b = 0; b < at.perOp; b++) s += p[k * at.perOp + b]!;
      w[j] = s;
    });
    return { w, total: 1 };
  }
  checkSlice(p, at.offset, m);
  let total = 0;
  for (let j = 0; j < m; j++) total += p[at.offset + j]!;
  for (let j = 0; j < m; j++) w[j] = p[at.offset + j]! / total;
  return { w, total };
}

// On webgpu: the weights are computed in the shaders from p (no read-back); `terms` is a constant
// array in the shader code, offset and perOp are uniforms; terms go through in chunks of
// WGSL_CHUNK, each shader binding its chunk, p and the previous chunk's result (a device binds at
// least 8 storage buffers, the output one of them).
const WGSL_CHUNK = 5;

function checkSliceShape(pLength: number, at: WeightedSumAttrs): void {
  if (at.weighting === 'opTotal') {
    for (const k of at.terms) {
      if (k * at.perOp < 0 || (k + 1) * at.perOp > pLength)
        throw new Error(`weighted sum: probabilities ${k * at.perOp}..${(k + 1) * at.perOp - 1} lie outside a vector of ${pLength}`);
    }
  } else if (at.offset < 0 || at.offset + at.terms.length > pLength) {
    throw new Error(`weighted sum: probabilities ${at.offset}..${at.offset + at.terms.length - 1} lie outside a vector of ${pLength}`);
  }
}

/**
 * WGSL: `constants` declares `TERMS` and `M`; `helpers` adds `weightOf(j)` (reads `p` and the
 * uniforms `perOp`, `offset`).
 */
function wgslWeights(at: WeightedSumAttrs): { key: string; constants: string; helpers: string } {
  const m = at.terms.length;
  const constants = `
const M : i32 = ${m};
var<private> TERMS : array<i32, ${m}> = array<i32, ${m}>(${at.terms.map((k) => `${k}`).join(', ')});`;
  const helpers = `${constants}
fn weightOf(j : i32) -> f32 {
  ${
    at.weighting === 'opTotal'
      ? `var s = 0.0;
  for (var b = 0; b < uniforms.perOp; b = b + 1) { s = s + p[TERMS[j] * uniforms.perOp + b]; }
  return s;`
      : `var total = 0.0;
  for (var b = 0; b < M; b = b + 1) { total = total + p[uniforms.offset + b]; }
  return p[uniforms.offset + j] / total;`
  }
}`;
  return { key: `${at.weighting}_${at.weighting === 'opTotal' ? at.terms.join('_') : m}`, constants, helpers };
}

const weightUniforms = (at: WeightedSumAttrs): WgslUniform[] => [
  { name: 'perOp', type: 'i32', value: at.perOp },
  { name: 'offset', type: 'i32', value: at.offset },
];

const forward: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasWeightedSum',
  webgpu: (backend, inputs, attrs) => {
    const at = attrsOf(attrs);
    const m = at.terms.length;
    const p = inputs[m]!;
    for (let j = 1; j < m; j++) {
      if (!tf.util.arraysEqual([...inputs[j]!.shape], [...inputs[0]!.shape]))
        throw new Error(`weighted sum: term ${j} has shape [${inputs[j]!.shape.join(', ')}], term 0 [${inputs[0]!.shape.join(', ')}]`);
    }
    checkSliceShape(p.shape[0]!, at);
    const { key, helpers } = wgslWeights(at);
    let sum: tf.TensorInfo | null = null;
    for (let start = 0; start < m; start += WGSL_CHUNK) {
      const count = Math.min(WGSL_CHUNK, m - start);
      const named: Record<string, tf.TensorInfo> = { p };
      for (let jj = 0; jj < count; jj++) named[`y${jj}`] = inputs[start + jj]!;
      if (sum) named['prev'] = sum;
      const terms = Array.from({ length: count }, (_, jj) => ` + weightOf(uniforms.start + ${jj}) * y${jj}[index]`).join('');
      const next = runWgslElementwise(backend, {
        key: `weighted_sum_${key}_${count}_${sum ? 'prev' : 'first'}`,
        inputs: named,
        outputShape: inputs[0]!.shape,
        uniforms: [...weightUniforms(at), { name: 'start', type: 'i32', value: start }],
        helpers,
        body: `setOutputAtIndex(index, ${sum ? 'prev[index]' : '0.0'}${terms});`,
      });
      if (sum) backend.disposeData(sum.dataId);
      sum = next;
    }
    return [sum!];
  },
  inputNames: forwardNames,
  outputShapes: ([first]) => [[...first!]],
  compute(inputs, [y], shapes, attrs, simd) {
    const at = attrsOf(attrs);
    const m = at.terms.length;
    for (let j = 1; j < m; j++) {
      if (!tf.util.arraysEqual([...shapes[j]!], [...shapes[0]!]))
        throw new Error(`weighted sum: term ${j} has shape [${shapes[j]!.join(', ')}], term 0 [${shapes[0]!.join(', ')}]`);
    }
    const { w } = weightsOf(inputs[m]!, at);
    const out = y!;
    if (simd) {
      for (let j = 0; j < m; j++) simd.k.axpy(simd.inputs[j]!, simd.outputs[0]!, out.length, w[j]!, j === 0);
      return;
    }
    const y0 = inputs[0]!;
    const w0 = w[0]!;
    for (let i = 0; i < out.length; i++) out[i] = w0 * y0[i]!;
    for (let j = 1; j < m; j++) {
      const yj = inputs[j]!;
      const wj = w[j]!;
      for (let i = 0; i < out.length; i++) out[i] += wj * yj[i]!;
    }
  },
};

/** dy_j = w_j·dy for the term `attrs.term`. */
const gradTerm: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasWeightedSumGradTerm',
  webgpu: (backend, [dy, p], attrs) => {
    const at = attrsOf(attrs);
    checkSliceShape(p!.shape[0]!, at);
    const { key, helpers } = wgslWeights(at);
    return [
      runWgslElementwise(backend, {
        key: `weighted_sum_grad_term_${key}`,
        inputs: { dy: dy!, p: p! },
        outputShape: dy!.shape,
        uniforms: [...weightUniforms(at), { name: 'term', type: 'i32', value: (attrs as { term?: number }).term! }],
        helpers,
        body: 'setOutputAtIndex(index, weightOf(uniforms.term) * dy[index]);',
      }),
    ];
  },
  inputNames: () => ['dy', 'p'],
  outputShapes: ([dy]) => [[...dy!]],
  compute([dy, p], [out], _shapes, attrs, simd) {
    const at = attrsOf(attrs);
    const wj = weightsOf(p!, at).w[(attrs as { term?: number }).term!]!;
    const d = dy!;
    if (simd) {
      simd.k.axpy(simd.inputs[0]!, simd.outputs[0]!, d.length, wj, true);
      return;
    }
    const o = out!;
    for (let i = 0; i < d.length; i++) o[i] = wj * d[i]!;
  },
};

/**
 * dp from s_j = Σ dy·y_j: `opTotal` adds s_j to each p of op k; `normalized` gives
 * dp_j = s_j / P − Σ_b s_b·p_b / P² (P the slice's total). Zero elsewhere.
 */
const gradProb: FusedKernel<SimdKernels> = {
  simd: simdKernels,
  name: 'QnasWeightedSumGradProb',
  webgpu: (backend, inputs, attrs) => {
    const at = attrsOf(attrs);
    const m = at.terms.length;
    const dy = inputs[0]!;
    const p = inputs[m + 1]!;
    checkSliceShape(p.shape[0]!, at);
    const n = dy.shape.reduce((a, d) => a * d, 1);
    // s_j = Σ dy·y_j into one vector of m, a chunk of terms per shader.
    let s: tf.TensorInfo | null = null;
    for (let start = 0; start < m; start += WGSL_CHUNK) {
      const count = Math.min(WGSL_CHUNK, m - start);
      const named: Record<string, tf.TensorInfo> = { dy };
      for (let jj = 0; jj < count; jj++) named[`y${jj}`] = inputs[start + 1 + jj]!;
      if (s) named['prev'] = s;
      const loops = Array.from(
        { length: count },
        (_, jj) => `if (jj == ${jj}) { for (var i = lane; i < uniforms.n; i = i + REDUCE_LANES) { acc = acc + dy[i] * y${jj}[i]; } }`,
      ).join(' else ');
      const next = runWgslReduction(backend, {
        key: `weighted_sum_dots_${count}_${s ? 'prev' : 'first'}`,
        inputs: named,
        outputShape: [m],
        uniforms: [
          { name: 'n', type: 'i32', value: n },
          { name: 'start', type: 'i32', value: start },
        ],
        accumulate: `let jj = outIndex - uniforms.start;
    ${loops}`,
        finish: `select(${s ? 'prev[outIndex]' : '0.0'}, total, outIndex >= uniforms.start && outIndex < uniforms.start + ${count})`,
      });
      if (s) backend.disposeData(s.dataId);
      s = next;
    }
    const { key, constants, helpers } = wgslWeights(at);
    // A shader's bindings are those it uses: opTotal's does not read p.
    const opTotal = at.weighting === 'opTotal';
    const body = opTotal
      ? `var v = 0.0;
    for (var j = 0; j < M; j = j + 1) {
      let k = TERMS[j] * uniforms.perOp;
      if (index >= k && index < k + uniforms.perOp) { v = v + s[j]; }
    }
    setOutputAtIndex(index, v);`
      : `var total = 0.0;
    var weighted = 0.0;
    for (var j = 0; j < M; j = j + 1) {
      total = total + p[uniforms.offset + j];
      weighted = weighted + s[j] * p[uniforms.offset + j];
    }
    let j = index - uniforms.offset;
    var v = 0.0;
    if (j >= 0 && j < M) { v = s[j] / total - weighted / (total * total); }
    setOutputAtIndex(index, v);`;
    const dp = runWgslElementwise(backend, {
      key: `weighted_sum_grad_prob_${key}`,
      inputs: opTotal ? { s: s! } : { s: s!, p },
      outputShape: p.shape,
      uniforms: weightUniforms(at),
      helpers: opTotal ? constants : helpers,
      body,
    });
    backend.disposeData(s!.dataId);
    return [dp];
  },
  inputNames: (a) => ['dy', ...termNames(a), 'p'],
  outputShapes: (shapes) => [[...shapes[shapes.length - 1]!]],
  compute(inputs, [dp], _shapes, attrs, simd) {
    const at = attrsOf(attrs);
    const m = at.terms.length;
    const d = inputs[0]!;
    const p = inputs[m + 1]!;
    const s = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      if (simd) {
        s[j] = simd.k.dot(simd.inputs[0]!, simd.inputs[j + 1]!, d.length);
        continue;
      }
      const yj = inputs[j + 1]!;
      let acc = 0;
      for (let i = 0; i < d.length; i++) acc += d[i]! * yj[i]!;
      s[j] = acc;
    }
    const out = dp!;
    out.fill(0);
    if (at.weighting === 'opTotal') {
      at.terms.forEach((k, j) => {
        for (let b = 0; b < at.perOp; b++) out[k * at.perOp + b] = out[k * at.perOp + b]! + s[j]!;
      });
      return;
    }
    const { total } = weightsOf(p, at);
    let weighted = 0;
    for (let j = 0; j < m; j++) weighted += s[j]! * p[at.offset + j]!;
    for (let j = 0; j < m; j++) out[at.offset + j] = s[j]! / total - weighted / (total * total);
  },
};

let ready = false;
function register(): void {
  if (ready) return;
  for (const k of [forward, gradTerm, gradProb]) registerFusedKernel(k);
  registerFusedGradient({
    kernelName: forward.name,
    saveAllInputs: true,
    gradFunc: (dy, saved, attrs) => {
      const p = saved[saved.length - 1]!;
      const terms = saved.slice(0, -1);
      const grads: Record<string, () => tf.Tensor> = {
        [String(terms.length)]: () => runFused(gradProb.name, { dy: dy as tf.Tensor, ...Object.fromEntries(terms.map((t, j) => [`y${j}`, t])), p }, attrs),
      };
      terms.forEach((_, j) => {
        grads[String(j)] = () => runFused(gradTerm.name, { dy: dy as tf.Tensor, p }, { ...attrs, term: j });
      });
      return grads;
    },
  });
  ready = true;
}

/** Σ_j w_j·terms[j], the weights read from `p` as `attrs.weighting` says. */
export function fusedWeightedSum<T extends tf.Tensor>(terms: readonly T[], p: tf.Tensor1D, attrs: WeightedSumAttrs): T {
  register();
  if (terms.length === 0) throw new Error('weighted sum: no terms');
  if (terms.length !== attrs.terms.length) throw new Error(`weighted sum: ${terms.length} tensors for ${attrs.terms.length} terms`);
  const inputs = [...terms, p] as unknown as tf.NamedTensorMap;
  return runFused(forward.name, inputs, { ...attrs, terms: [...attrs.terms] }) as T;
}
