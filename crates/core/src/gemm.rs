//! The one matrix product every linear layer runs through, forward and both backward products:
//! `C[m×n] (=|+=) A[m×k] · B[k×n]`, with `A` and `B` given by arbitrary row and column strides so that
//! transposed operands need no copy of their own.
//!
//! Structure (BLIS, Goto): `C` is cut into tiles of `mc × nc`, the tasks the threads share (see
//! `pool.rs`). A task walks `k` in blocks of `KC`; for each block it packs its slice of `B` into
//! micro-panels of `NR` columns (`KC × NR`, contiguous: 8 KiB, held in L1 while it is used) and its
//! slice of `A` into micro-panels of `MR` rows (`MR × KC`, streamed from L2), then runs the
//! micro-kernel over every pair: an `MR × NR` block of `C` held in `MR · NR/4` vector registers across
//! the whole `KC` loop, each step one splat load per row of `A`, `NR/4` vector loads of `B` and
//! `MR · NR/4` multiply-adds (relaxed-SIMD FMA where the engine has it). Packing costs `1/nc + 1/mc`
//! moves per multiply-add and turns every operand layout into the same two contiguous streams.
//!
//! The micro-tile is 8 × 8 (`MR = 8`, `NV = 2`): sixteen accumulators, the `KC` loop unrolled by four
//! with no remainder loop (packed blocks are zero-padded to a multiple of four steps instead). V8's
//! code for this loop is sensitive to its exact form; measured on one core with operands in L1
//! (Deno 2.9, x86-64), GFLOP/s: 8×8 49.7, 7×8 49.3, 5×12 49.3, 4×16 47, 6×8 47, 4×12 46 as written in
//! [`micro`]; 25–38 for the same tiles unrolled by 2 or 8, with a remainder loop, with the B vectors
//! built as an array literal, or with the accumulators passed in. FMAs alone, without loads, run at
//! 54. 8 × 8 also divides every dimension of the models here (and head sizes), so edges waste nothing.
//!
//! Exactness: every element of `C` is summed in the same order (`KC` blocks in order, each a chain of
//! multiply-adds over `p`) whatever the tiling or the thread that runs it.

use crate::pool;
use crate::simd::F4;

/// Rows of a micro-tile.
const MR: usize = 8;
/// Vectors per micro-tile row: `NR = 4·NV = 8` columns.
const NV: usize = 2;
const NR: usize = 4 * NV;
/// Depth of a packed block: `KC × NR` of B is 8 KiB.
const KC: usize = 256;
/// Steps per turn of the micro-kernel's loop; packed blocks are zero-padded to a multiple of it.
const UNROLL: usize = 4;
/// Largest tile of `C` per task (before rounding up to whole micro-tiles): the packed blocks of A
/// (`MC0 × KC`, 256 KiB) and B (`KC × NC0`, 256 KiB) fit L2 together.
const MC0: usize = 256;
const NC0: usize = 256;

/// A read-only matrix operand: element `(r, c)` at `ptr[r·rs + c·cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Mat {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

// SAFETY: a `Mat` is only read, and the kernels' contract is that nothing writes it during a call.
unsafe impl Sync for Mat {}
unsafe impl Send for Mat {}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint tiles of `C`.
unsafe impl Sync for OutPtr {}
unsafe impl Send for OutPtr {}

fn div_ceil(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// `C = A·B` (or `C += A·B` with `accumulate`), `C` row-major with row stride `ldc`.
///
/// # Safety
/// `a` must address `m × k` readable values through its strides, `b` `k × n`, and `c` must be `m`
/// rows of `n` writable values at stride `ldc`, not overlapping `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                std::slice::from_raw_parts_mut(c.add(i * ldc), n).fill(0.0);
            }
        }
        return;
    }
    // As few tiles as fit `MC0 × NC0`, evened out (no sliver of a tile at an edge), then more, by
    // splitting the longer side, until there are four tasks per thread (claimed dynamically).
    let want = if pool::threads() > 1 {
        4 * pool::threads()
    } else {
        1
    };
    let (mut ti, mut tj) = (div_ceil(m, MC0), div_ceil(n, NC0));
    while ti * tj < want && (ti < div_ceil(m, 4 * MR) || tj < div_ceil(n, 4 * NR)) {
        if (m / ti >= n / tj && ti < div_ceil(m, 4 * MR)) || tj >= div_ceil(n, 4 * NR) {
            ti += 1;
        } else {
            tj += 1;
        }
    }
    let mc = div_ceil(m, ti).next_multiple_of(MR);
    let nc = div_ceil(n, tj).next_multiple_of(NR);
    // Rounding up to whole micro-tiles can leave fewer tiles than asked for: recount.
    let (ti, tj) = (div_ceil(m, mc), div_ceil(n, nc));
    let out = OutPtr(c);
    pool::for_each(ti * tj, &|t| {
        // Whole-variable uses, so the closure captures the Sync wrappers rather than their raw fields.
        let (a, b, out) = (a, b, out);
        let (i0, j0) = ((t / tj) * mc, (t % tj) * nc);
        // SAFETY: the tile lies inside C; tasks write disjoint tiles.
        unsafe {
            tile(
                (m - i0).min(mc),
                (n - j0).min(nc),
                k,
                Mat {
                    ptr: a.ptr.add(i0 * a.rs),
                    ..a
                },
                Mat {
                    ptr: b.ptr.add(j0 * b.cs),
                    ..b
                },
                out.0.add(i0 * ldc + j0),
                ldc,
                accumulate,
            )
        }
    });
}

/// [`gemm`] on the calling thread alone, as one tile: for blocks inside a task of another job
/// (attention's), where splitting would only add packing calls.
///
/// # Safety
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_block(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        gemm(m, n, k, a, b, c, ldc, accumulate);
        return;
    }
    tile(m, n, k, a, b, c, ldc, accumulate)
}

/// One task: an `m × n` tile of C (at most about `MC0 × NC0`) over the whole depth `k`.
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let (pm, pn) = (div_ceil(m, MR), div_ceil(n, NR));
    // This thread's packing buffers: `m × KC` of A, then `KC × n` of B (whole micro-panels).
    pool::with_scratch(pm * MR * KC + pn * NR * KC, |buf| {
        let (pa, pb) = buf.split_at_mut(pm * MR * KC);
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            // Steps past `kc` are packed as zeros, so the kernel's loop has no remainder.
            let kp = kc.next_multiple_of(UNROLL);
            // A's rows are the panel dimension; B's columns are (B(p, j) read as a panel of j).
            pack(
                pa.as_mut_ptr(),
                MR,
                m,
                kc,
                kp,
                a.ptr.add(p0 * a.cs),
                a.rs,
                a.cs,
            );
            pack(
                pb.as_mut_ptr(),
                NR,
                n,
                kc,
                kp,
                b.ptr.add(p0 * b.rs),
                b.cs,
                b.rs,
            );
            let add = accumulate || p0 > 0;
            for jr in 0..pn {
                let nr = NR.min(n - jr * NR);
                let bp = pb.as_ptr().add(jr * NR * kp);
                for ir in 0..pm {
                    let mr = MR.min(m - ir * MR);
                    let acc = micro(kp, pa.as_ptr().add(ir * MR * kp), bp);
                    store(acc, c.add(ir * MR * ldc + jr * NR), ldc, mr, nr, add);
                }
            }
            p0 += kc;
        }
    });
}

/// Packs `len` steps of `w`-wide panels, each `padded` steps long:
/// `dst[panel·w·padded + v·w + u] = src[(panel·w + u)·su + v·sv]` for `panel·w + u < count` and
/// `v < len`, zeros elsewhere (so edge tiles and padding steps compute on zeros, never out of bounds).
#[allow(clippy::too_many_arguments)]
unsafe fn pack(
    dst: *mut f32,
    w: usize,
    count: usize,
    len: usize,
    padded: usize,
    src: *const f32,
    su: usize,
    sv: usize,
) {
    for panel in 0..div_ceil(count, w) {
        let d = dst.add(panel * w * padded);
        std::slice::from_raw_parts_mut(d.add(len * w), (padded - len) * w).fill(0.0);
        let s = src.add(panel * w * su);
        let full = (count - panel * w).min(w);
        if su == 1 && full == w {
            // Each step's `w` values are contiguous: a straight copy.
            for v in 0..len {
                let (sv_, dv) = (s.add(v * sv), d.add(v * w));
                let mut u = 0;
                while u + 4 <= w {
                    F4::load(sv_.add(u)).store(dv.add(u));
                    u += 4;
                }
                while u < w {
                    *dv.add(u) = *sv_.add(u);
                    u += 1;
                }
            }
        } else if sv == 1 && full == w {
            // Each source row runs along the steps: 4×4 transposes, then any rows past a multiple of 4.
            let mut u = 0;
            while u + 4 <= w {
                let rows = [0, 1, 2, 3].map(|q| s.add((u + q) * su));
                let mut v = 0;
                while v + 4 <= len {
                    let t = F4::transpose4(rows.map(|r| F4::load(r.add(v))));
                    for (q, t) in t.iter().enumerate() {
                        t.store(d.add((v + q) * w + u));
                    }
                    v += 4;
                }
                while v < len {
                    for (q, r) in rows.iter().enumerate() {
                        *d.add(v * w + u + q) = *r.add(v);
                    }
                    v += 1;
                }
                u += 4;
            }
            while u < w {
                let r = s.add(u * su);
                for v in 0..len {
                    *d.add(v * w + u) = *r.add(v);
                }
                u += 1;
            }
        } else {
            for v in 0..len {
                for u in 0..w {
                    *d.add(v * w + u) = if u < full {
                        *s.add(u * su + v * sv)
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// The micro-kernel: `Σ_p a[p·MR + r] · b[p·NR + c]` for an `MR × NR` block, in registers, `kc` a
/// multiple of [`UNROLL`]. Each step: one splat load per row of A, two vectors of B, sixteen
/// multiply-adds. Keep its form (see the module notes): small rewrites of it cost V8 up to 40%.
#[inline(never)]
unsafe fn micro(kc: usize, a: *const f32, b: *const f32) -> [[F4; NV]; MR] {
    let mut acc = [[F4::splat(0.0); NV]; MR];
    let (mut a, mut b) = (a, b);
    let mut p = 0;
    while p + UNROLL <= kc {
        for u in 0..UNROLL {
            let (a, b) = (a.add(u * MR), b.add(u * 4 * NV));
            let mut bv = [F4::splat(0.0); NV];
            for (v, bv) in bv.iter_mut().enumerate() {
                *bv = F4::load(b.add(4 * v));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let av = F4::load_splat(a.add(r));
                for v in 0..NV {
                    acc[v] = av.mul_add(bv[v], acc[v]);
                }
            }
        }
        a = a.add(UNROLL * MR);
        b = b.add(UNROLL * 4 * NV);
        p += UNROLL;
    }
    acc
}

/// Writes (or adds) the valid `mr × nr` corner of a micro-tile into C.
#[inline(always)]
unsafe fn store<const MR: usize, const NV: usize>(
    acc: [[F4; NV]; MR],
    c: *mut f32,
    ldc: usize,
    mr: usize,
    nr: usize,
    add: bool,
) {
    if mr == MR && nr == NR {
        for (r, row) in acc.iter().enumerate() {
            for (v, x) in row.iter().enumerate() {
                let p = c.add(r * ldc + 4 * v);
                if add {
                    F4::load(p).add(*x).store(p);
                } else {
                    x.store(p);
                }
            }
        }
        return;
    }
    let mut tmp = [[[0.0f32; 4]; NV]; MR];
    for (r, row) in acc.iter().enumerate() {
        for (v, x) in row.iter().enumerate() {
            x.store(tmp[r][v].as_mut_ptr());
        }
    }
    for (r, row) in tmp.iter().enumerate().take(mr) {
        for q in 0..nr {
            let p = c.add(r * ldc + q);
            let t = row[q / 4][q % 4];
            *p = if add { *p + t } else { t };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand_vec};

    /// Every layout the linear layer uses (A and B each plain or transposed), odd sizes on every edge,
    /// several K blocks, and accumulation.
    #[test]
    fn all_layouts_match_f64_on_odd_shapes() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (7, 9, 5),
            (13, 17, 300),
            (250, 70, 520),
            (6, 8, 256),
        ] {
            let a = rand_vec(m * k, 1);
            let b = rand_vec(k * n, 2);
            let c0 = rand_vec(m * n, 3);
            for a_t in [false, true] {
                for b_t in [false, true] {
                    let am = if a_t {
                        Mat {
                            ptr: a.as_ptr(),
                            rs: 1,
                            cs: m,
                        }
                    } else {
                        Mat {
                            ptr: a.as_ptr(),
                            rs: k,
                            cs: 1,
                        }
                    };
                    let bm = if b_t {
                        Mat {
                            ptr: b.as_ptr(),
                            rs: 1,
                            cs: k,
                        }
                    } else {
                        Mat {
                            ptr: b.as_ptr(),
                            rs: n,
                            cs: 1,
                        }
                    };
                    let at = |i: usize, p: usize| a[i * am.rs + p * am.cs] as f64;
                    let bt = |p: usize, j: usize| b[p * bm.rs + j * bm.cs] as f64;
                    for accumulate in [false, true] {
                        let mut c = c0.clone();
                        // SAFETY: sizes match the strides above.
                        unsafe { gemm(m, n, k, am, bm, c.as_mut_ptr(), n, accumulate) };
                        let want: Vec<f64> = (0..m * n)
                            .map(|e| {
                                let (i, j) = (e / n, e % n);
                                let s: f64 = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
                                if accumulate {
                                    s + c0[e] as f64
                                } else {
                                    s
                                }
                            })
                            .collect();
                        close(&c, &want, 1e-5);
                    }
                }
            }
        }
    }
}
