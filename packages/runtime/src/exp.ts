/**
 * exp(x) as fdlibm's e_exp.c computes it in the form V8 compiles into Math.exp (src/base/ieee754.cc,
 * with its exp(1) = E special case): the same IEEE double operations in the same order, so the
 * same bits in every JS engine, and the same as the kernels' expF64 (assembly/layers.ts). The
 * sigmoid layer's specification; where Math.exp is V8's it returns Math.exp's bits (tested).
 */
const words = new DataView(new ArrayBuffer(8));

const LN2_HI = 6.9314718036912381649e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.442695040888963387;
const P1 = 1.66666666666666019037e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.6533902205465251539e-6;
const P5 = 4.13813679705723846039e-8;

export function expFdlibm(x: number): number {
  words.setFloat64(0, x);
  const high = words.getUint32(0);
  const xsb = high >>> 31;
  const hx = high & 0x7fffffff;
  if (hx >= 0x40862e42) {
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | words.getUint32(4)) !== 0) return x + x;
      return xsb === 0 ? x : 0;
    }
    if (x > 7.09782712893383973096e2) return Infinity;
    if (x < -7.4513321910194110842e2) return 0;
  }
  let hi = 0;
  let lo = 0;
  let k = 0;
  if (hx > 0x3fd62e42) {
    if (hx < 0x3ff0a2b2) {
      if (x === 1) return 2.718281828459045;
      hi = x - (xsb === 0 ? LN2_HI : -LN2_HI);
      lo = xsb === 0 ? LN2_LO : -LN2_LO;
      k = 1 - xsb - xsb;
    } else {
      k = Math.trunc(INV_LN2 * x + (xsb === 0 ? 0.5 : -0.5));
      hi = x - k * LN2_HI;
      lo = k * LN2_LO;
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {
    return 1 + x;
  }
  const t = x * x;
  words.setUint32(0, (0x3ff00000 + ((k >= -1021 ? k : k + 1000) << 20)) >>> 0);
  words.setUint32(4, 0);
  const twopk = words.getFloat64(0);
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k === 0) return 1 - ((x * c) / (c - 2) - x);
  const y = 1 - (lo - (x * c) / (2 - c) - hi);
  if (k >= -1021) {
    if (k === 1024) return y * 2 * 8.988465674311579539e307;
    return y * twopk;
  }
  return y * twopk * 9.3326361850321887899e-302;
}

/** The sigmoid layer: f32(1 / (1 + exp(−x))) in double. */
export function sigmoidF32(x: number): number {
  return Math.fround(1 / (1 + expFdlibm(-x)));
}
