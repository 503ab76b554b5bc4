//! A four-lane f32 vector, [`F4`]: SIMD128 on wasm32, a plain array on the host. Every kernel is written
//! once against it, so `cargo test` on the host runs the same loops, tails and blocking lane by lane as
//! the wasm build runs in SIMD registers.
//!
//! Also here: the slice-level building blocks the kernels share (dot, axpy, sums, max), and a vector
//! `exp` (Cephes' `expf` polynomial, about 1 ulp) because the standard library's `exp` is a scalar
//! software routine on wasm32 and softmax, SiLU and the loss call it once per element.

// F4 mirrors the wasm instruction names (add, mul, …) rather than the operator traits.
#![allow(clippy::should_implement_trait)]

#[cfg(target_arch = "wasm32")]
use std::arch::wasm32::*;

/// Four f32 lanes.
#[derive(Clone, Copy, Debug)]
pub struct F4(
    #[cfg(target_arch = "wasm32")] v128,
    #[cfg(not(target_arch = "wasm32"))] [f32; 4],
);

#[cfg(target_arch = "wasm32")]
impl F4 {
    /// Four bf16 values (the upper halves of f32s) from `p .. p + 4`, widened exactly to f32.
    ///
    /// # Safety
    /// `p .. p + 4` must be readable.
    #[inline(always)]
    pub unsafe fn load_bf16(p: *const u16) -> F4 {
        F4(i32x4_shl(u32x4_extend_low_u16x8(v128_load64_zero(p as *const u64)), 16))
    }
    #[inline(always)]
    pub fn splat(x: f32) -> F4 {
        F4(f32x4_splat(x))
    }
    /// # Safety
    /// `p .. p + 4` must be readable.
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> F4 {
        F4(v128_load(p as *const v128))
    }
    /// # Safety
    /// `p .. p + 4` must be writable.
    #[inline(always)]
    pub unsafe fn store(self, p: *mut f32) {
        v128_store(p as *mut v128, self.0)
    }
    /// `v128.load32_splat`: one value from memory in all four lanes.
    ///
    /// # Safety
    /// `p` must be readable.
    #[inline(always)]
    pub unsafe fn load_splat(p: *const f32) -> F4 {
        F4(v128_load32_splat(p as *const u32))
    }
    /// Lanes 0 and 1 stored to `p`, `p + 1`.
    ///
    /// # Safety
    /// `p .. p + 2` must be writable.
    #[inline(always)]
    pub unsafe fn store_lo2(self, p: *mut f32) {
        v128_store64_lane::<0>(self.0, p as *mut u64)
    }
    /// Lanes 2 and 3 stored to `p`, `p + 1`.
    ///
    /// # Safety
    /// `p .. p + 2` must be writable.
    #[inline(always)]
    pub unsafe fn store_hi2(self, p: *mut f32) {
        v128_store64_lane::<1>(self.0, p as *mut u64)
    }
    /// `[self0, o0, self1, o1]` and `[self2, o2, self3, o3]`: two rows interleaved lane by lane.
    #[inline(always)]
    pub fn zip(self, o: F4) -> [F4; 2] {
        [
            F4(i32x4_shuffle::<0, 4, 1, 5>(self.0, o.0)),
            F4(i32x4_shuffle::<2, 6, 3, 7>(self.0, o.0)),
        ]
    }
    #[inline(always)]
    pub fn add(self, o: F4) -> F4 {
        F4(f32x4_add(self.0, o.0))
    }
    /// `self·a + b`, one rounding where the engine fuses it (relaxed SIMD's `f32x4.relaxed_madd`: an
    /// FMA on x86-64 with FMA3 and on ARM), two roundings otherwise.
    #[cfg(target_feature = "relaxed-simd")]
    #[inline(always)]
    pub fn mul_add(self, a: F4, b: F4) -> F4 {
        F4(f32x4_relaxed_madd(self.0, a.0, b.0))
    }
    /// `self·a + b` (this build has no relaxed SIMD: two roundings).
    #[cfg(not(target_feature = "relaxed-simd"))]
    #[inline(always)]
    pub fn mul_add(self, a: F4, b: F4) -> F4 {
        F4(f32x4_add(f32x4_mul(self.0, a.0), b.0))
    }
    #[inline(always)]
    pub fn sub(self, o: F4) -> F4 {
        F4(f32x4_sub(self.0, o.0))
    }
    #[inline(always)]
    pub fn mul(self, o: F4) -> F4 {
        F4(f32x4_mul(self.0, o.0))
    }
    #[inline(always)]
    pub fn div(self, o: F4) -> F4 {
        F4(f32x4_div(self.0, o.0))
    }
    #[inline(always)]
    pub fn max(self, o: F4) -> F4 {
        F4(f32x4_pmax(self.0, o.0))
    }
    #[inline(always)]
    pub fn min(self, o: F4) -> F4 {
        F4(f32x4_pmin(self.0, o.0))
    }
    #[inline(always)]
    pub fn sqrt(self) -> F4 {
        F4(f32x4_sqrt(self.0))
    }
    #[inline(always)]
    pub fn floor(self) -> F4 {
        F4(f32x4_floor(self.0))
    }
    /// `2^n` for lanes holding integers `n` in `-126 ..= 127`.
    #[inline(always)]
    fn pow2i(self) -> F4 {
        let n = i32x4_trunc_sat_f32x4(self.0);
        F4(i32x4_shl(i32x4_add(n, i32x4_splat(127)), 23))
    }
    /// Lanes where `self < limit` become 0, others keep `value`'s lane.
    #[inline(always)]
    fn zero_where_below(self, limit: f32, value: F4) -> F4 {
        F4(v128_andnot(value.0, f32x4_lt(self.0, f32x4_splat(limit))))
    }
    #[inline(always)]
    pub fn hsum(self) -> f32 {
        (f32x4_extract_lane::<0>(self.0) + f32x4_extract_lane::<1>(self.0))
            + (f32x4_extract_lane::<2>(self.0) + f32x4_extract_lane::<3>(self.0))
    }
    #[inline(always)]
    pub fn hmax(self) -> f32 {
        f32x4_extract_lane::<0>(self.0)
            .max(f32x4_extract_lane::<1>(self.0))
            .max(f32x4_extract_lane::<2>(self.0).max(f32x4_extract_lane::<3>(self.0)))
    }
    /// The 4×4 transpose of four rows.
    #[inline(always)]
    pub fn transpose4(r: [F4; 4]) -> [F4; 4] {
        let [t0, t1] = r[0].zip(r[1]); // a0 b0 a1 b1, a2 b2 a3 b3
        let [t2, t3] = r[2].zip(r[3]); // c0 d0 c1 d1, c2 d2 c3 d3
        [
            F4(i64x2_shuffle::<0, 2>(t0.0, t2.0)),
            F4(i64x2_shuffle::<1, 3>(t0.0, t2.0)),
            F4(i64x2_shuffle::<0, 2>(t1.0, t3.0)),
            F4(i64x2_shuffle::<1, 3>(t1.0, t3.0)),
        ]
    }
    /// The lanes widened to f64 and squared, summed in pairs: `[x0² + x2², x1² + x3²]`.
    #[inline(always)]
    pub fn sq_f64(self) -> [f64; 2] {
        let lo = f64x2_promote_low_f32x4(self.0);
        let hi = f64x2_promote_low_f32x4(i32x4_shuffle::<2, 3, 0, 1>(self.0, self.0));
        let s = f64x2_add(f64x2_mul(lo, lo), f64x2_mul(hi, hi));
        [f64x2_extract_lane::<0>(s), f64x2_extract_lane::<1>(s)]
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl F4 {
    /// Four bf16 values widened exactly to f32 (see the wasm32 form).
    ///
    /// # Safety
    /// `p .. p + 4` must be readable.
    #[inline(always)]
    pub unsafe fn load_bf16(p: *const u16) -> F4 {
        F4([0, 1, 2, 3].map(|i| bf16_to_f32(*p.add(i))))
    }
    #[inline(always)]
    fn map2(self, o: F4, f: impl Fn(f32, f32) -> f32) -> F4 {
        F4([
            f(self.0[0], o.0[0]),
            f(self.0[1], o.0[1]),
            f(self.0[2], o.0[2]),
            f(self.0[3], o.0[3]),
        ])
    }
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> F4 {
        F4([f(self.0[0]), f(self.0[1]), f(self.0[2]), f(self.0[3])])
    }
    pub fn splat(x: f32) -> F4 {
        F4([x; 4])
    }
    /// # Safety
    /// `p .. p + 4` must be readable.
    pub unsafe fn load(p: *const f32) -> F4 {
        F4([*p, *p.add(1), *p.add(2), *p.add(3)])
    }
    /// # Safety
    /// `p .. p + 4` must be writable.
    pub unsafe fn store(self, p: *mut f32) {
        for (i, v) in self.0.iter().enumerate() {
            *p.add(i) = *v;
        }
    }
    /// # Safety
    /// `p` must be readable.
    pub unsafe fn load_splat(p: *const f32) -> F4 {
        F4([*p; 4])
    }
    /// # Safety
    /// `p .. p + 2` must be writable.
    pub unsafe fn store_lo2(self, p: *mut f32) {
        *p = self.0[0];
        *p.add(1) = self.0[1];
    }
    /// # Safety
    /// `p .. p + 2` must be writable.
    pub unsafe fn store_hi2(self, p: *mut f32) {
        *p = self.0[2];
        *p.add(1) = self.0[3];
    }
    pub fn zip(self, o: F4) -> [F4; 2] {
        let (a, b) = (self.0, o.0);
        [F4([a[0], b[0], a[1], b[1]]), F4([a[2], b[2], a[3], b[3]])]
    }
    pub fn add(self, o: F4) -> F4 {
        self.map2(o, |a, b| a + b)
    }
    /// `self·a + b` with two roundings (one of the results relaxed SIMD allows).
    pub fn mul_add(self, a: F4, b: F4) -> F4 {
        self.mul(a).add(b)
    }
    pub fn sub(self, o: F4) -> F4 {
        self.map2(o, |a, b| a - b)
    }
    pub fn mul(self, o: F4) -> F4 {
        self.map2(o, |a, b| a * b)
    }
    pub fn div(self, o: F4) -> F4 {
        self.map2(o, |a, b| a / b)
    }
    /// Pseudo-max as wasm's `f32x4.pmax`: `a < b ? b : a`.
    pub fn max(self, o: F4) -> F4 {
        self.map2(o, |a, b| if a < b { b } else { a })
    }
    /// Pseudo-min as wasm's `f32x4.pmin`: `b < a ? b : a`.
    pub fn min(self, o: F4) -> F4 {
        self.map2(o, |a, b| if b < a { b } else { a })
    }
    pub fn sqrt(self) -> F4 {
        self.map(f32::sqrt)
    }
    pub fn floor(self) -> F4 {
        self.map(f32::floor)
    }
    fn pow2i(self) -> F4 {
        self.map(|n| f32::from_bits(((n as i32 + 127) << 23) as u32))
    }
    fn zero_where_below(self, limit: f32, value: F4) -> F4 {
        F4([0, 1, 2, 3].map(|i| if self.0[i] < limit { 0.0 } else { value.0[i] }))
    }
    pub fn hsum(self) -> f32 {
        (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
    }
    pub fn hmax(self) -> f32 {
        self.0[0].max(self.0[1]).max(self.0[2].max(self.0[3]))
    }
    pub fn transpose4(r: [F4; 4]) -> [F4; 4] {
        [0, 1, 2, 3].map(|c| F4([r[0].0[c], r[1].0[c], r[2].0[c], r[3].0[c]]))
    }
    pub fn sq_f64(self) -> [f64; 2] {
        let w = self.0.map(|x| x as f64);
        [w[0] * w[0] + w[2] * w[2], w[1] * w[1] + w[3] * w[3]]
    }
}

// Cephes expf: exp(x) = 2^n · exp(r), n = round(x·log2 e), r = x − n·ln 2 (ln 2 split in two parts so
// that n·C1 is exact), exp(r) by a degree-6 polynomial on |r| ≤ ln2/2.
const EXP_HI: f32 = 88.0; // exp(88) < f32::MAX, so 2^n never overflows the exponent field
const EXP_LO: f32 = -87.33654; // below this the result would be subnormal: flushed to 0
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const P0: f32 = 1.987_569_1e-4;
const P1: f32 = 1.398_199_9e-3;
const P2: f32 = 8.333_452e-3;
const P3: f32 = 4.166_579_6e-2;
const P4: f32 = 1.666_666_5e-1;
const P5: f32 = 0.5; // Cephes: 5.0000001201e-1, which rounds to 0.5 in f32

impl F4 {
    /// `e^x` per lane; relative error about 1e-7, 0 for `x < −87.3` (and for −∞), saturating above 88.
    #[inline(always)]
    pub fn exp(self) -> F4 {
        let x = self.min(F4::splat(EXP_HI)).max(F4::splat(EXP_LO));
        let n = x.mul(F4::splat(LOG2E)).add(F4::splat(0.5)).floor();
        let r = x
            .sub(n.mul(F4::splat(LN2_HI)))
            .sub(n.mul(F4::splat(LN2_LO)));
        let mut p = F4::splat(P0);
        for c in [P1, P2, P3, P4, P5] {
            p = p.mul(r).add(F4::splat(c));
        }
        let y = p.mul(r.mul(r)).add(r).add(F4::splat(1.0));
        self.zero_where_below(EXP_LO, y.mul(n.pow2i()))
    }
}

/// Scalar `e^x` with exactly the vector's arithmetic (the tails of vector loops use it).
#[inline]
pub fn exp(x: f32) -> f32 {
    let x0 = x;
    let x = x.clamp(EXP_LO, EXP_HI);
    if x0 < EXP_LO || x0.is_nan() {
        return if x0.is_nan() { x0 } else { 0.0 };
    }
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = P0;
    for c in [P1, P2, P3, P4, P5] {
        p = p * r + c;
    }
    let y = p * (r * r) + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// `Σ a[i]·b[i]` over the shorter length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let k = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = F4::splat(0.0);
    let mut acc1 = F4::splat(0.0);
    let mut p = 0;
    // SAFETY: every load stays below k.
    unsafe {
        while p + 8 <= k {
            acc0 = acc0.add(F4::load(pa.add(p)).mul(F4::load(pb.add(p))));
            acc1 = acc1.add(F4::load(pa.add(p + 4)).mul(F4::load(pb.add(p + 4))));
            p += 8;
        }
        if p + 4 <= k {
            acc0 = acc0.add(F4::load(pa.add(p)).mul(F4::load(pb.add(p))));
            p += 4;
        }
    }
    let mut s = acc0.add(acc1).hsum();
    while p < k {
        s += a[p] * b[p];
        p += 1;
    }
    s
}

/// `y[i] += a·x[i]` over `y.len()` (x at least as long).
#[inline]
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    let k = y.len();
    assert!(x.len() >= k);
    let (py, px) = (y.as_mut_ptr(), x.as_ptr());
    let va = F4::splat(a);
    let mut p = 0;
    // SAFETY: p + 4 <= k bounds both slices.
    unsafe {
        while p + 4 <= k {
            F4::load(py.add(p))
                .add(va.mul(F4::load(px.add(p))))
                .store(py.add(p));
            p += 4;
        }
    }
    while p < k {
        y[p] += a * x[p];
        p += 1;
    }
}

/// `y[i] *= a` over `y`.
#[inline]
pub fn scale(y: &mut [f32], a: f32) {
    let k = y.len();
    let py = y.as_mut_ptr();
    let va = F4::splat(a);
    let mut p = 0;
    // SAFETY: p + 4 <= k.
    unsafe {
        while p + 4 <= k {
            F4::load(py.add(p)).mul(va).store(py.add(p));
            p += 4;
        }
    }
    while p < k {
        y[p] *= a;
        p += 1;
    }
}

/// `max x[i]` (−∞ for an empty slice).
#[inline]
pub fn max(x: &[f32]) -> f32 {
    let k = x.len();
    let mut m = f32::NEG_INFINITY;
    let mut p = 0;
    if k >= 4 {
        let mut acc = F4::splat(f32::NEG_INFINITY);
        // SAFETY: p + 4 <= k.
        unsafe {
            while p + 4 <= k {
                acc = acc.max(F4::load(x.as_ptr().add(p)));
                p += 4;
            }
        }
        m = acc.hmax();
    }
    while p < k {
        m = m.max(x[p]);
        p += 1;
    }
    m
}

/// `x[i] = e^(x[i] − shift)`, returning `Σ x[i]` afterwards.
#[inline]
pub fn exp_shifted_sum(x: &mut [f32], shift: f32) -> f32 {
    let k = x.len();
    let px = x.as_mut_ptr();
    let vs = F4::splat(shift);
    let mut acc = F4::splat(0.0);
    let mut p = 0;
    // SAFETY: p + 4 <= k.
    unsafe {
        while p + 4 <= k {
            let e = F4::load(px.add(p)).sub(vs).exp();
            e.store(px.add(p));
            acc = acc.add(e);
            p += 4;
        }
    }
    let mut s = acc.hsum();
    while p < k {
        x[p] = exp(x[p] - shift);
        s += x[p];
        p += 1;
    }
    s
}

/// `x[i] = e^(x[i]·scale − shift)`, returning `Σ x[i]` afterwards: [`exp_shifted_sum`] of the scaled
/// values in one pass (the same roundings as scaling first).
#[inline]
pub fn exp_affine_sum(x: &mut [f32], scale: f32, shift: f32) -> f32 {
    let k = x.len();
    let px = x.as_mut_ptr();
    let (vm, vs) = (F4::splat(scale), F4::splat(shift));
    let mut acc = F4::splat(0.0);
    let mut p = 0;
    // SAFETY: p + 4 <= k.
    unsafe {
        while p + 4 <= k {
            let e = F4::load(px.add(p)).mul(vm).sub(vs).exp();
            e.store(px.add(p));
            acc = acc.add(e);
            p += 4;
        }
    }
    let mut s = acc.hsum();
    while p < k {
        x[p] = exp(x[p] * scale - shift);
        s += x[p];
        p += 1;
    }
    s
}

/// `Σ x[i]²` accumulated in f64 (a global gradient norm sums millions of terms).
#[inline]
pub fn sum_squares_f64(x: &[f32]) -> f64 {
    let k = x.len();
    let (mut s0, mut s1) = (0.0f64, 0.0f64);
    let mut p = 0;
    // SAFETY: p + 4 <= k.
    unsafe {
        while p + 4 <= k {
            let [a, b] = F4::load(x.as_ptr().add(p)).sq_f64();
            s0 += a;
            s1 += b;
            p += 4;
        }
    }
    let mut s = s0 + s1;
    while p < k {
        s += x[p] as f64 * x[p] as f64;
        p += 1;
    }
    s
}

/// `Σ x[i]²` in f32 lanes (one row of a norm: short enough for f32).
#[inline]
pub fn sum_squares(x: &[f32]) -> f32 {
    dot(x, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_f64_exp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got_scalar = exp(x) as f64;
            let mut lanes = [x, x * 0.5, -x * 0.25, x * 0.125];
            // SAFETY: four-element array.
            unsafe { F4::load(lanes.as_ptr()).exp().store(lanes.as_mut_ptr()) };
            worst = worst.max(((got_scalar - want) / want).abs());
            assert_eq!(lanes[0], exp(x));
            x += 0.0137;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(100.0).is_finite());
    }

    #[test]
    fn slice_helpers_match_plain_loops() {
        let a: Vec<f32> = (0..23).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..23).map(|i| (i as f32 * 0.11).cos()).collect();
        let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
        assert!((dot(&a, &b) as f64 - plain).abs() < 1e-5);
        let mut y = b.clone();
        axpy(&mut y, 0.5, &a);
        for i in 0..23 {
            assert_eq!(y[i], b[i] + 0.5 * a[i]);
        }
        assert_eq!(max(&a), a.iter().cloned().fold(f32::NEG_INFINITY, f32::max));
        let sq: f64 = a.iter().map(|x| *x as f64 * *x as f64).sum();
        assert!((sum_squares_f64(&a) - sq).abs() < 1e-12);
        let mut e = a.clone();
        let s = exp_shifted_sum(&mut e, 0.3);
        let want: f64 = a.iter().map(|x| (*x as f64 - 0.3).exp()).sum();
        assert!((s as f64 - want).abs() / want < 1e-6);
    }
}

/// A bf16 value (the upper 16 bits of an f32) widened to f32: exact, every bf16 is an f32.
#[inline(always)]
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// An element type a kernel reads and widens to f32 as it loads: `f32` itself, or `u16` holding bf16
/// bits (weights kept at half the memory; the widening is exact, so a kernel run on bf16 values gives
/// bit for bit what it gives on those values widened to f32 beforehand).
pub trait Elem: Copy + 'static {
    /// Four consecutive values at `p` as f32 lanes.
    ///
    /// # Safety
    /// `p .. p + 4` must be readable.
    unsafe fn load4(p: *const Self) -> F4;
    /// The value as f32.
    fn widen(self) -> f32;
}

impl Elem for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> F4 {
        F4::load(p)
    }
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl Elem for u16 {
    #[inline(always)]
    unsafe fn load4(p: *const u16) -> F4 {
        F4::load_bf16(p)
    }
    #[inline(always)]
    fn widen(self) -> f32 {
        bf16_to_f32(self)
    }
}
