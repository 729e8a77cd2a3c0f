/**
 * A seeded pseudo-random number generator whose output is the same on every platform, and
 * the few transcendental functions its distributions need, written so that they too give
 * the same bits everywhere.
 *
 * Generator: **xoshiro128\*\*** (Blackman & Vigna, 2018; 128-bit state, period 2^128 − 1),
 * seeded by **splitmix64**: the seed is taken as a 64-bit integer, splitmix64 is stepped
 * twice, and the two 64-bit outputs give the four 32-bit state words (low word first). All
 * state arithmetic is 32-bit integer arithmetic (`Math.imul`, shifts, xor), which
 * ECMAScript defines exactly, so the raw `uint32()` stream is bit-identical on every engine
 * and platform, and matches the reference C implementations.
 *
 * Derived draws: `next()` (32-bit resolution) and `next53()` uniforms, `int(n)` (unbiased:
 * Lemire's multiply-shift or rejection), `expStd()`/`exp(rate)` (ziggurat, Marsaglia & Tsang
 * 2000), `normal()` (Marsaglia's polar method), `logNormal(median, p99)`. They use only
 * IEEE-754 `+ − × ÷`, `Math.sqrt` (correctly rounded by IEEE-754), `Math.floor`/`trunc`
 * (exact) and, since ECMAScript leaves `Math.log`/`Math.exp` to the implementation, this
 * module's ports of fdlibm's `log` and `exp` (`detLog`, `detExp`; on V8, which uses fdlibm
 * too, they return the same bits as `Math.log`/`Math.exp`). So every draw is bit-identical
 * across platforms and engines.
 * @module
 */

// ---------------------------------------------------------------------------------------
// Bit access to doubles (for the fdlibm ports). The high word's index depends on the
// platform's byte order; it is detected once, so the ports work on either.
// ---------------------------------------------------------------------------------------
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
F64[0] = 1;
const HI = U32[1] === 0x3ff00000 ? 1 : 0;
const LO = 1 - HI;

const LN2_HI = 6.93147180369123816490e-1; // 0x3fe62e42 fee00000
const LN2_LO = 1.90821492927058770002e-10; // 0x3dea39ef 35793c76
const TWO54 = 1.80143985094819840000e16; // 2^54
const LG1 = 6.666666666666735130e-1;
const LG2 = 3.999999999940941908e-1;
const LG3 = 2.857142874366239149e-1;
const LG4 = 2.222219843214978396e-1;
const LG5 = 1.818357216161805012e-1;
const LG6 = 1.531383769920937332e-1;
const LG7 = 1.479819860511658591e-1;

/**
 * Natural logarithm, bit-identical on every platform: a port of fdlibm's `__ieee754_log`
 * (error < 1 ulp). `detLog(0)` is −∞, negative or NaN input gives NaN, `detLog(∞)` is ∞.
 */
export function detLog(x: number): number {
  if (!(x > 0)) return x === 0 ? Number.NEGATIVE_INFINITY : Number.NaN;
  if (x === Number.POSITIVE_INFINITY) return x;
  F64[0] = x;
  let hx = U32[HI]!;
  let k = 0;
  if (hx < 0x00100000) {
    // Subnormal: scale up.
    k -= 54;
    F64[0] = x * TWO54;
    hx = U32[HI]!;
  }
  k += (hx >>> 20) - 1023;
  hx &= 0x000fffff;
  const i = (hx + 0x95f64) & 0x100000;
  U32[HI] = hx | (i ^ 0x3ff00000); // normalize x or x/2
  k += i >>> 20;
  const f = F64[0] - 1.0;
  if ((0x000fffff & (2 + hx)) < 3) {
    // -2^-20 <= f < 2^-20
    if (f === 0) return k === 0 ? 0 : k * LN2_HI + k * LN2_LO;
    const r = f * f * (0.5 - 0.33333333333333333 * f);
    return k === 0 ? f - r : k * LN2_HI - (r - k * LN2_LO - f);
  }
  const s = f / (2.0 + f);
  const dk = k;
  const z = s * s;
  let ii = hx - 0x6147a;
  const w = z * z;
  const j = 0x6b851 - hx;
  const t1 = w * (LG2 + w * (LG4 + w * LG6));
  const t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
  ii |= j;
  const R = t2 + t1;
  if (ii > 0) {
    const hfsq = 0.5 * f * f;
    return k === 0 ? f - (hfsq - s * (hfsq + R)) : dk * LN2_HI - (hfsq - (s * (hfsq + R) + dk * LN2_LO) - f);
  }
  return k === 0 ? f - s * (f - R) : dk * LN2_HI - (s * (f - R) - dk * LN2_LO - f);
}

const O_THRESHOLD = 7.09782712893383973096e2;
const U_THRESHOLD = -7.45133219101941108420e2;
const INV_LN2 = 1.44269504088896338700;
const TWOM1000 = 9.33263618503218878990e-302; // 2^-1000
const P1 = 1.66666666666666019037e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.65339022054652515390e-6;
const P5 = 4.13813679705723846039e-8;

/** The double whose high and low 32-bit words are `hi` and `lo`. */
function fromWords(hi: number, lo: number): number {
  U32[HI] = hi;
  U32[LO] = lo;
  return F64[0]!;
}

// fdlibm's tests on the high word of |x|, as comparisons of |x| with the doubles they
// bound (positive doubles order like their bit patterns), so that the hot path needs no
// bit access.
const EXP_BIG = fromWords(0x40862e42, 0); // |x| >= this: overflow/underflow checks
const EXP_HALF_LN2 = fromWords(0x3fd62e43, 0); // |x| > 0.5 ln2 ⇔ |x| >= this
const EXP_1_5_LN2 = fromWords(0x3ff0a2b2, 0); // |x| < 1.5 ln2 ⇔ |x| < this
const EXP_TINY = fromWords(0x3e300000, 0); // 2^-28
/** 2^k for k in [−1022, 1023] at index k + 1022, built by exact doubling and halving. */
const POW2 = new Float64Array(2046);
{
  let p = 1;
  for (let k = 0; k <= 1023; k++, p *= 2) POW2[k + 1022] = p;
  p = 1;
  for (let k = 0; k >= -1022; k--, p /= 2) POW2[k + 1022] = p;
}

/**
 * e^x, bit-identical on every platform: a port of fdlibm's `__ieee754_exp` (error < 1 ulp).
 * Overflows to ∞ above ≈ 709.78 and underflows to 0 below ≈ −745.13.
 */
export function detExp(x: number): number {
  if (x !== x) return x;
  const ax = x < 0 ? -x : x;
  if (ax >= EXP_BIG) {
    if (ax === Number.POSITIVE_INFINITY) return x > 0 ? x : 0;
    if (x > O_THRESHOLD) return Number.POSITIVE_INFINITY;
    if (x < U_THRESHOLD) return 0;
  }
  let hi = 0;
  let lo = 0;
  let k = 0;
  if (ax >= EXP_HALF_LN2) {
    if (ax < EXP_1_5_LN2) {
      if (x > 0) {
        hi = x - LN2_HI;
        lo = LN2_LO;
        k = 1;
      } else {
        hi = x + LN2_HI;
        lo = -LN2_LO;
        k = -1;
      }
    } else {
      k = Math.trunc(INV_LN2 * x + (x > 0 ? 0.5 : -0.5));
      hi = x - k * LN2_HI; // exact here
      lo = k * LN2_LO;
    }
    x = hi - lo;
  } else if (ax < EXP_TINY) {
    return 1 + x;
  }
  const t = x * x;
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k === 0) return 1 - ((x * c) / (c - 2.0) - x);
  const y = 1 - (lo - (x * c) / (2.0 - c) - hi);
  // fdlibm adds k to y's exponent; multiplying by an exact power of two is the same
  // operation while the result stays normal.
  if (k >= -1021) return k <= 1023 ? y * POW2[k + 1022]! : y * 2 * POW2[1023 + 1022]!;
  return y * POW2[k + 1000 + 1022]! * TWOM1000;
}

const QA = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239] as const;
const QB = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1] as const;
const QC = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783] as const;
const QD = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416] as const;
const Q_LOW = 0.02425;

/**
 * The standard normal quantile Φ⁻¹(p) for p in (0, 1) (Acklam's rational approximation,
 * relative error < 1.2e-9), bit-identical on every platform. −∞ at 0, ∞ at 1, NaN outside
 * [0, 1]. E.g. `normalQuantile(0.99)` ≈ 2.32635.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return Number.NaN;
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  if (p < Q_LOW || p > 1 - Q_LOW) {
    const upper = p > 0.5;
    const q = Math.sqrt(-2 * detLog(upper ? 1 - p : p));
    const x = (((((QC[0] * q + QC[1]) * q + QC[2]) * q + QC[3]) * q + QC[4]) * q + QC[5]) / ((((QD[0] * q + QD[1]) * q + QD[2]) * q + QD[3]) * q + 1);
    return upper ? -x : x;
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((QA[0] * r + QA[1]) * r + QA[2]) * r + QA[3]) * r + QA[4]) * r + QA[5]) * q) / (((((QB[0] * r + QB[1]) * r + QB[2]) * r + QB[3]) * r + QB[4]) * r + 1);
}

// ---------------------------------------------------------------------------------------
// Ziggurat tables for the standard exponential (Marsaglia & Tsang 2000, 256 layers), built
// once with detLog/detExp. A draw takes the layer from the low 8 bits of a 32-bit word and
// the position in the layer from the other 24, so the two are independent.
// ---------------------------------------------------------------------------------------
const ZE_R = 7.697117470131487; // start of the tail
const ZE_V = 3.949659822581572e-3; // area of each layer
const ZE_M = 16777216; // 2^24 positions a layer
const ZE_K = new Float64Array(256);
const ZE_W = new Float64Array(256);
const ZE_F = new Float64Array(256);
{
  let de = ZE_R;
  let tde = de;
  const q = ZE_V / detExp(-de);
  ZE_K[0] = Math.floor((de / q) * ZE_M);
  ZE_K[1] = 0;
  ZE_W[0] = q / ZE_M;
  ZE_W[255] = de / ZE_M;
  ZE_F[0] = 1;
  ZE_F[255] = detExp(-de);
  for (let i = 254; i >= 1; i--) {
    de = -detLog(ZE_V / de + detExp(-de));
    ZE_K[i + 1] = Math.floor((de / tde) * ZE_M);
    tde = de;
    ZE_F[i] = detExp(-de);
    ZE_W[i] = de / ZE_M;
  }
}

// ---------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------

/** 2^-32: turns a uint32 into [0, 1). */
const INV_2_32 = 1 / 4294967296;
/** 2^-53. */
const INV_2_53 = 1 / 9007199254740992;
/** Standard normal quantile at 0.99 (Φ⁻¹(0.99)). */
export const Z_99 = 2.3263478740408408;

const M64 = (1n << 64n) - 1n;

/** One splitmix64 step on a 64-bit state: the new state and the output. */
function splitmix64(state: bigint): [bigint, bigint] {
  const s = (state + 0x9e3779b97f4a7c15n) & M64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return [s, z ^ (z >> 31n)];
}

/** The four 32-bit words of a generator's state (unsigned), as `SeededRng.state` gives them. */
export type RngState = readonly [number, number, number, number];

/**
 * A seeded pseudo-random number generator: xoshiro128\*\* seeded by splitmix64 (see the
 * module doc). The same seed gives the same sequence of every draw on every platform.
 * Not cryptographic.
 *
 * The sequence is a stream of 32-bit words; each method says how many it consumes, so that
 * any mix of calls is reproducible from the seed. `normal()` and `logNormal()` keep a spare
 * normal deviate between calls (part of the state, saved by `state`/`restore`).
 */
export class SeededRng {
  /** State words s0..s3 (stored signed; read unsigned through `state`). */
  private readonly s = new Int32Array(4);
  private hasSpare = false;
  private spare = 0;
  private lnMedian = Number.NaN;
  private lnSigma = Number.NaN;
  private lnMu = 0;
  private lnMedianArg = Number.NaN;
  private lnP99Arg = Number.NaN;

  /**
   * @param seed any safe integer (negative ones too: taken modulo 2^64) or a bigint (taken
   *   modulo 2^64). Default 0.
   * @throws RangeError for a number that is not a safe integer.
   */
  constructor(seed: number | bigint = 0) {
    let x: bigint;
    if (typeof seed === 'bigint') x = seed & M64;
    else {
      if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
      x = BigInt(seed) & M64;
    }
    const [x1, a] = splitmix64(x);
    const [, b] = splitmix64(x1);
    this.s[0] = Number(a & 0xffffffffn) | 0;
    this.s[1] = Number(a >> 32n) | 0;
    this.s[2] = Number(b & 0xffffffffn) | 0;
    this.s[3] = Number(b >> 32n) | 0;
    // The all-zero state is xoshiro's only fixed point; splitmix64 cannot give it for two
    // consecutive outputs, but guard anyway.
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** A generator in a saved state (see `state`), with no spare normal deviate. */
  static fromState(state: RngState): SeededRng {
    const r = new SeededRng(0);
    r.restore(state, undefined);
    return r;
  }

  /** The four state words (unsigned 32-bit), to save and `restore` the position in the sequence. */
  get state(): RngState {
    const s = this.s;
    return [s[0]! >>> 0, s[1]! >>> 0, s[2]! >>> 0, s[3]! >>> 0];
  }

  /** The spare normal deviate `normal()` will return next, or `undefined` when there is none. */
  get spareNormal(): number | undefined {
    return this.hasSpare ? this.spare : undefined;
  }

  /**
   * Puts the generator back to a saved position: `state` from `state`, `spareNormal` from
   * `spareNormal` (omit it for none).
   * @throws RangeError when the words are not uint32 or all zero.
   */
  restore(state: RngState, spareNormal?: number): void {
    for (const w of state) {
      if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new RangeError(`state words must be uint32, got ${w}`);
    }
    if ((state[0] | state[1] | state[2] | state[3]) === 0) throw new RangeError('the all-zero state is not allowed');
    for (let i = 0; i < 4; i++) this.s[i] = state[i]! | 0;
    this.hasSpare = spareNormal !== undefined;
    this.spare = spareNormal ?? 0;
  }

  /** An independent copy at the same position (spare normal deviate included). */
  clone(): SeededRng {
    const r = SeededRng.fromState(this.state);
    r.hasSpare = this.hasSpare;
    r.spare = this.spare;
    return r;
  }

  /** The next 32-bit word of the sequence, as an unsigned integer in [0, 2^32). One word. */
  uint32(): number {
    const s = this.s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    let s2 = s[2]!;
    let s3 = s[3]!;
    const m = Math.imul(s1, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s[1] = s1 ^ s2;
    s[0] = s0 ^ s3;
    s[2] = s2 ^ t;
    s[3] = (s3 << 11) | (s3 >>> 21);
    return r >>> 0;
  }

  /**
   * A uniform number in [0, 1) with 32-bit resolution (a multiple of 2^-32). One word.
   * The fast default; use `next53()` where finer resolution matters.
   */
  next(): number {
    return this.uint32() * INV_2_32;
  }

  /** A uniform number in [0, 1) with 53-bit resolution (a multiple of 2^-53). Two words. */
  next53(): number {
    const a = this.uint32() >>> 5;
    const b = this.uint32() >>> 6;
    return (a * 67108864 + b) * INV_2_53;
  }

  /**
   * A uniform integer in [0, n), unbiased (rejection sampling). `n` must be an integer in
   * [1, 2^53]. One word per attempt for n ≤ 2^32 (fewer than 2 attempts on average, almost
   * always 1 for small n: Lemire's method up to 2^21), two words per attempt above.
   * @throws RangeError for any other n.
   */
  int(n: number): number {
    if (n >= 1 && n <= 2097152 && Number.isInteger(n)) {
      // Lemire's multiply-and-shift: u·n < 2^53 is exact; its high part is the result,
      // rejecting the 2^32 mod n low values that would bias it.
      for (;;) {
        const x = this.uint32() * n;
        const hi = Math.floor(x * INV_2_32);
        const lo = x - hi * 4294967296;
        if (lo >= n || lo >= 4294967296 % n) return hi;
      }
    }
    if (n > 2097152 && n <= 4294967296 && Number.isInteger(n)) {
      // Largest multiple of n not above 2^32: draws at or above it are rejected.
      const limit = 4294967296 - (4294967296 % n);
      for (;;) {
        const u = this.uint32();
        if (u < limit) return u % n;
      }
    }
    if (n > 4294967296 && n <= 9007199254740992 && Number.isInteger(n)) {
      const limit = 9007199254740992 - (9007199254740992 % n);
      for (;;) {
        const a = this.uint32() >>> 5;
        const b = this.uint32() >>> 6;
        const u = a * 67108864 + b;
        if (u < limit) return u % n;
      }
    }
    throw new RangeError(`int(n) needs an integer n in [1, 2^53], got ${n}`);
  }

  /** True with probability `p` (clamped to [0, 1]). One word. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * A standard exponential deviate (mean 1), by the ziggurat method: one word about 98.9%
   * of the time, more in the rare wedge and tail cases; exact (not an approximation).
   */
  expStd(): number {
    for (;;) {
      const u = this.uint32();
      const iz = u & 255;
      const jz = u >>> 8;
      if (jz < ZE_K[iz]!) return jz * ZE_W[iz]!;
      if (iz === 0) return ZE_R - detLog(1 - this.next()); // the tail beyond R, by memorylessness
      const x = jz * ZE_W[iz]!;
      if (ZE_F[iz]! + this.next() * (ZE_F[iz - 1]! - ZE_F[iz]!) < detExp(-x)) return x;
    }
  }

  /**
   * An exponential deviate with the given rate (mean 1/rate), e.g. an inter-arrival time in
   * seconds for a rate in events per second: `expStd() / rate`.
   * @throws RangeError unless rate > 0 and finite.
   */
  exp(rate: number): number {
    if (!(rate > 0 && rate < Number.POSITIVE_INFINITY)) throw new RangeError(`exp(rate) needs a finite rate > 0, got ${rate}`);
    return this.expStd() / rate;
  }

  /**
   * A standard normal deviate (mean 0, standard deviation 1), by Marsaglia's polar method:
   * pairs of 32-bit uniforms, 4/π pairs per two deviates on average; the second deviate of
   * each pair is kept as a spare and returned by the next call.
   */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    for (;;) {
      const u = this.uint32() * (2 * INV_2_32) - 1;
      const v = this.uint32() * (2 * INV_2_32) - 1;
      const q = u * u + v * v;
      if (q >= 1 || q === 0) continue;
      const f = Math.sqrt((-2 * detLog(q)) / q);
      this.spare = v * f;
      this.hasSpare = true;
      return u * f;
    }
  }

  /**
   * A log-normal deviate described by its median and 99th percentile (same unit, any unit:
   * µs of latency, lots of size...): `exp(μ + σ·normal())` with μ = ln(median) and
   * σ = ln(p99 / median) / Φ⁻¹(0.99). `p99 === median` gives the median every time (still
   * consuming a normal deviate). Parameters of the last call are cached, so repeated calls
   * with the same pair cost one normal deviate and one `detExp`.
   * @throws RangeError unless 0 < median ≤ p99 < ∞.
   */
  logNormal(median: number, p99: number): number {
    if (median !== this.lnMedianArg || p99 !== this.lnP99Arg) {
      if (!(median > 0 && p99 >= median && p99 < Number.POSITIVE_INFINITY)) {
        throw new RangeError(`logNormal(median, p99) needs 0 < median <= p99 < Infinity, got ${median}, ${p99}`);
      }
      this.lnMedianArg = median;
      this.lnP99Arg = p99;
      this.lnMu = detLog(median);
      this.lnMedian = median;
      this.lnSigma = detLog(p99 / median) / Z_99;
    }
    const z = this.normal();
    return this.lnSigma === 0 ? this.lnMedian : detExp(this.lnMu + this.lnSigma * z);
  }
}
