//! The one matrix product every linear layer runs through, forward and both backward products:
//! `C[m×n] (=|+=) A[m×k] · B[k×n]`, with `A` and `B` given by arbitrary row and column strides so that
//! transposed operands need no copy of their own.
//!
//! Structure (BLIS, Goto): `B` is taken in blocks of up to `KC × NC`. Each block is packed once, by
//! all the threads, into micro-panels of `NR` columns (`KC × NR`, contiguous: 8 KiB, held in L1 while
//! it is used) in one buffer that every thread then reads. The block of `C` is cut into tiles, the
//! tasks the threads share (see `pool.rs`); a task packs its rows of `A` into micro-panels of `MR`
//! rows (`MR × KC`, streamed from L2) and runs the micro-kernel over every pair: an `MR × NR` block
//! of `C` held in `MR · NR/4` vector registers across the whole `KC` loop, each step one splat load
//! per row of A, `NR/4` vector loads of B and `MR · NR/4` multiply-adds (relaxed-SIMD FMA where the
//! engine has it), then added into `C` in place. Packing turns every operand layout into the same
//! two contiguous streams; each element of B is packed once per call and each element of A once per
//! tile of C it meets, so it costs about `1/m + 1/w` moves per multiply-add, `w` the tiles' width
//! (all of a block, up to `NC`, unless a few rows must be split further for the threads; an earlier
//! version packed both operands per 256 × 256 tile of C, `1/128`: 12% of the time at 1024³).
//!
//! The micro-tile is 6 × 8 (`MR = 6`, `NV = 2`): twelve accumulators, two vectors of B and one splat
//! of A fill the 15 vector registers V8 allocates for wasm on x86-64. On wasm32 the kernel is written
//! in WebAssembly text (`gemm_micro.s`), because LLVM reorders the Rust form of it into one that
//! spills (that file says how); the Rust form below runs on the host, so `cargo test` checks the same
//! packing, tiling and edges. Eight steps a turn and no remainder loop: packed blocks are zero-padded
//! to a multiple of eight steps.
//!
//! Measured on one Zen 4 core at 1024³ (`deno run --allow-read --allow-env bench/cpu_bench.ts
//! --no-train --threads 1`), GFLOP/s: the earlier 8 × 8 tile in Rust, which spills, 42–43; 6 × 8 in
//! Rust 33 (spills worse); 6 × 8 by hand 46.5 with four steps a turn, 47.5 with eight; then B packed
//! once per block and shared, A once per tile, 50; the kernel adding into `C` itself rather than
//! handing its block back through memory, 51.5. The same without any packing (results wrong, for
//! scale) runs at 54, the rate of V8's 128-bit FMAs alone.
//!
//! Exactness: every element of `C` is summed in the same order (`KC` blocks in order, each a chain of
//! multiply-adds over `p`) whatever the tiling or the thread that runs it.

use crate::pool;
use crate::simd::{Elem, F4};

/// Rows of a micro-tile.
const MR: usize = 6;
/// Vectors per micro-tile row: `NR = 4·NV = 8` columns.
const NV: usize = 2;
const NR: usize = 4 * NV;
/// Depth of a packed block: `KC × NR` of B is 8 KiB.
const KC: usize = 256;
/// Steps per turn of the micro-kernel's loop; packed blocks are zero-padded to a multiple of it.
const UNROLL: usize = 8;
/// Columns of a shared block of B (`KC × NC`, 1 MiB: every thread reads all of it, from its L2).
const NC: usize = 1024;
/// Largest row tile per task (before rounding up to whole micro-tiles): its packed block of A
/// (`MC0 × KC`, about 256 KiB) stays in L2.
const MC0: usize = 256;
/// Micro-panels of B packed per task.
const PACK_PANELS: usize = 16;

/// A read-only matrix operand: element `(r, c)` at `ptr[r·rs + c·cs]`, of f32 or (for B) of bf16
/// bits, widened to f32 as it is packed.
#[derive(Clone, Copy, Debug)]
pub struct Mat<T = f32> {
    pub ptr: *const T,
    pub rs: usize,
    pub cs: usize,
}

// SAFETY: a `Mat` is only read, and the kernels' contract is that nothing writes it during a call.
unsafe impl<T> Sync for Mat<T> {}
unsafe impl<T> Send for Mat<T> {}

#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint parts of what it points to.
unsafe impl Sync for OutPtr {}
unsafe impl Send for OutPtr {}

/// `C = A·B` (or `C += A·B` with `accumulate`), `C` row-major with row stride `ldc`. `B` may be bf16:
/// its packed panels are then the same f32 values as those of `B` widened first, so the result is
/// the same bit for bit.
///
/// # Safety
/// `a` must address `m × k` readable values through its strides, `b` `k × n`, and `c` must be `m`
/// rows of `n` writable values at stride `ldc`, not overlapping `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<TB: Elem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat,
    b: Mat<TB>,
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
    let nc_max = NC.min(n);
    let panel_len = KC.next_multiple_of(UNROLL) * NR;
    pool::with_shared(nc_max.div_ceil(NR) * panel_len, |shared| {
        let pb = OutPtr(shared.as_mut_ptr());
        let out = OutPtr(c);
        let mut j0 = 0;
        while j0 < n {
            let nc = nc_max.min(n - j0);
            let pn = nc.div_ceil(NR);
            let (mc, ti, ncs, tj) = tiles(m, nc);
            let mut p0 = 0;
            while p0 < k {
                let kc = KC.min(k - p0);
                let kp = kc.next_multiple_of(UNROLL);
                let add = accumulate || p0 > 0;
                // B's columns are the panel dimension (B(p, j) read as a panel of j).
                pool::for_chunks(pn, PACK_PANELS, &|s, e| {
                    // Whole-variable uses, so the closure captures the Sync wrappers rather than
                    // their raw fields.
                    let (b, pb) = (b, pb);
                    // SAFETY: panels `s..e` of this block lie inside B and inside the buffer; tasks
                    // pack disjoint panels.
                    unsafe {
                        pack(
                            pb.0.add(s * NR * kp),
                            NR,
                            (nc - s * NR).min((e - s) * NR),
                            kc,
                            kp,
                            b.ptr.add(p0 * b.rs + (j0 + s * NR) * b.cs),
                            b.cs,
                            b.rs,
                        )
                    }
                });
                pool::for_each(ti * tj, &|t| {
                    let (a, pb, out) = (a, pb, out);
                    let (i0, jt) = ((t / tj) * mc, (t % tj) * ncs);
                    let rows = mc.min(m - i0);
                    // SAFETY: the tile lies inside A and C; tasks write disjoint tiles of C.
                    unsafe {
                        pool::with_scratch(rows.div_ceil(MR) * MR * kp, |pa| {
                            pack(
                                pa.as_mut_ptr(),
                                MR,
                                rows,
                                kc,
                                kp,
                                a.ptr.add(i0 * a.rs + p0 * a.cs),
                                a.rs,
                                a.cs,
                            );
                            macro_tile(
                                rows,
                                ncs.min(nc - jt),
                                kp,
                                pa.as_ptr(),
                                pb.0.add(jt * kp),
                                out.0.add(i0 * ldc + j0 + jt),
                                ldc,
                                add,
                            );
                        })
                    }
                });
                p0 += kc;
            }
            j0 += nc;
        }
    })
}

/// The tasks of one block of C, `m × n`: `ti × tj` tiles of `mc × nc` (whole micro-tiles). As few
/// tiles as fit `MC0` rows, evened out (tiles of nearly equal size, up to rounding to whole
/// micro-tiles), then more, by splitting the longer side, until there are four tasks per thread
/// (claimed dynamically, so a thread slowed by another process takes fewer), while the tiles keep
/// about `4·MR` rows and `4·NR` columns. Rows are split first: a column
/// split packs the tile's rows of A once more.
fn tiles(m: usize, n: usize) -> (usize, usize, usize, usize) {
    let want = if pool::threads() > 1 {
        4 * pool::threads()
    } else {
        1
    };
    let (max_ti, max_tj) = (m.div_ceil(4 * MR), n.div_ceil(4 * NR));
    let (mut ti, mut tj) = (m.div_ceil(MC0), 1);
    while ti * tj < want && (ti < max_ti || tj < max_tj) {
        if ti < max_ti && (m / ti >= n / tj || tj >= max_tj) {
            ti += 1;
        } else {
            tj += 1;
        }
    }
    let mc = m.div_ceil(ti).next_multiple_of(MR);
    let nc = n.div_ceil(tj).next_multiple_of(NR);
    // Rounding up to whole micro-tiles can leave fewer tiles than asked for: recount.
    (mc, m.div_ceil(mc), nc, n.div_ceil(nc))
}

/// [`gemm`] on the calling thread alone: for blocks inside a task of another job (attention's), where
/// splitting would only add packing calls.
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
    let (pm, pn) = (m.div_ceil(MR), n.div_ceil(NR));
    let kp_max = KC.min(k).next_multiple_of(UNROLL);
    // This thread's packing buffers: `m × KC` of A, then `KC × n` of B (whole micro-panels).
    pool::with_scratch((pm * MR + pn * NR) * kp_max, |buf| {
        let (pa, pb) = buf.split_at_mut(pm * MR * kp_max);
        let mut p0 = 0;
        while p0 < k {
            let kc = KC.min(k - p0);
            let kp = kc.next_multiple_of(UNROLL);
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
            macro_tile(
                m,
                n,
                kp,
                pa.as_ptr(),
                pb.as_ptr(),
                c,
                ldc,
                accumulate || p0 > 0,
            );
            p0 += kc;
        }
    });
}

/// `C (=|+=) Apacked · Bpacked` for an `m × n` tile over one packed block of depth `kp`: every B
/// micro-panel in turn (held in L1) against every A micro-panel (streamed from L2). Whole micro-tiles
/// go straight into C; those cut by an edge of C through a small buffer.
#[allow(clippy::too_many_arguments)]
unsafe fn macro_tile(
    m: usize,
    n: usize,
    kp: usize,
    pa: *const f32,
    pb: *const f32,
    c: *mut f32,
    ldc: usize,
    add: bool,
) {
    for jr in 0..n.div_ceil(NR) {
        let nr = NR.min(n - jr * NR);
        let bp = pb.add(jr * NR * kp);
        for ir in 0..m.div_ceil(MR) {
            let mr = MR.min(m - ir * MR);
            let (ap, cp) = (pa.add(ir * MR * kp), c.add(ir * MR * ldc + jr * NR));
            if mr == MR && nr == NR {
                micro(kp, ap, bp, cp, ldc, add);
            } else {
                let mut edge = [0.0f32; MR * NR];
                micro(kp, ap, bp, edge.as_mut_ptr(), NR, false);
                for r in 0..mr {
                    for q in 0..nr {
                        let (p, t) = (cp.add(r * ldc + q), edge[r * NR + q]);
                        *p = if add { *p + t } else { t };
                    }
                }
            }
        }
    }
}

/// Packs `len` steps of `w`-wide panels, each `padded` steps long:
/// `dst[panel·w·padded + v·w + u] = src[(panel·w + u)·su + v·sv]` for `panel·w + u < count` and
/// `v < len`, zeros elsewhere (so edge tiles and padding steps compute on zeros, never out of bounds).
#[allow(clippy::too_many_arguments)]
unsafe fn pack<T: Elem>(
    dst: *mut f32,
    w: usize,
    count: usize,
    len: usize,
    padded: usize,
    src: *const T,
    su: usize,
    sv: usize,
) {
    let panels = count.div_ceil(w);
    for panel in 0..panels {
        let d = dst.add(panel * w * padded);
        std::slice::from_raw_parts_mut(d.add(len * w), (padded - len) * w).fill(0.0);
    }
    if su == 1 && (w == 6 || w == 8) {
        // Each step's values are contiguous across all the panels: step by step, every panel, so
        // that the source is read along its rows (panel by panel it would be read in `w`-value
        // pieces from `len` rows, and rows a power-of-two apart share a few L1 sets).
        for v in 0..len {
            let s = src.add(v * sv);
            for panel in 0..panels {
                let (sp, d) = (s.add(panel * w), dst.add(panel * w * padded + v * w));
                let full = (count - panel * w).min(w);
                if full < w {
                    for u in 0..w {
                        *d.add(u) = if u < full { (*sp.add(u)).widen() } else { 0.0 };
                    }
                } else if w == 8 {
                    T::load4(sp).store(d);
                    T::load4(sp.add(4)).store(d.add(4));
                } else {
                    // Six values: the first four, then the last two of the four from the third.
                    T::load4(sp).store(d);
                    T::load4(sp.add(2)).store_hi2(d.add(4));
                }
            }
        }
        return;
    }
    for panel in 0..panels {
        let d = dst.add(panel * w * padded);
        let s = src.add(panel * w * su);
        let full = (count - panel * w).min(w);
        if sv == 1 && full == w {
            // Each source row runs along the steps: 4×4 transposes, then a pair of rows interleaved
            // (the 6-row panels of A), then any row left.
            let mut u = 0;
            while u + 4 <= w {
                let rows = [0, 1, 2, 3].map(|q| s.add((u + q) * su));
                let mut v = 0;
                while v + 4 <= len {
                    let t = F4::transpose4(rows.map(|r| T::load4(r.add(v))));
                    for (q, t) in t.iter().enumerate() {
                        t.store(d.add((v + q) * w + u));
                    }
                    v += 4;
                }
                while v < len {
                    for (q, r) in rows.iter().enumerate() {
                        *d.add(v * w + u + q) = (*r.add(v)).widen();
                    }
                    v += 1;
                }
                u += 4;
            }
            if u + 2 <= w {
                let (r0, r1) = (s.add(u * su), s.add((u + 1) * su));
                let mut v = 0;
                while v + 4 <= len {
                    let [lo, hi] = T::load4(r0.add(v)).zip(T::load4(r1.add(v)));
                    lo.store_lo2(d.add(v * w + u));
                    lo.store_hi2(d.add((v + 1) * w + u));
                    hi.store_lo2(d.add((v + 2) * w + u));
                    hi.store_hi2(d.add((v + 3) * w + u));
                    v += 4;
                }
                while v < len {
                    *d.add(v * w + u) = (*r0.add(v)).widen();
                    *d.add(v * w + u + 1) = (*r1.add(v)).widen();
                    v += 1;
                }
                u += 2;
            }
            while u < w {
                let r = s.add(u * su);
                for v in 0..len {
                    *d.add(v * w + u) = (*r.add(v)).widen();
                }
                u += 1;
            }
        } else {
            for v in 0..len {
                for u in 0..w {
                    *d.add(v * w + u) = if u < full {
                        (*s.add(u * su + v * sv)).widen()
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
extern "C" {
    /// `gemm_micro.s`: the [`micro`] below, with `ldc` in bytes and `add` 0 or 1.
    fn tl_gemm_micro_6x8(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        add: u32,
    );
}

/// The micro-kernel: `Σ_p a[p·MR + r] · b[p·NR + j]` for an `MR × NR` block, in registers, written
/// to (or with `add` added to) `c` (rows `ldc` apart); `kc` a multiple of [`UNROLL`]. Each step: one
/// splat load per row of A, two vectors of B, twelve multiply-adds.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
unsafe fn micro(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, add: bool) {
    // The kernel's loop takes eight steps a turn and has no exit in between.
    debug_assert!(kc.is_multiple_of(UNROLL));
    tl_gemm_micro_6x8(kc, a, b, c, ldc * 4, add as u32);
}

/// The host form of the micro-kernel (see the module notes): the same sums in the same order, but
/// each multiply-add rounded twice (wasm fuses it), so host tests check against a tolerance.
#[cfg(not(target_arch = "wasm32"))]
unsafe fn micro(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, add: bool) {
    debug_assert!(kc.is_multiple_of(UNROLL));
    let mut acc = [[F4::splat(0.0); NV]; MR];
    for p in 0..kc {
        let (a, b) = (a.add(p * MR), b.add(p * NR));
        let bv = [F4::load(b), F4::load(b.add(4))];
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = F4::load_splat(a.add(r));
            for v in 0..NV {
                acc[v] = av.mul_add(bv[v], acc[v]);
            }
        }
    }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand_vec};

    /// Every layout the linear layer uses (A and B each plain or transposed), odd sizes on every edge,
    /// several K blocks, several column blocks, and accumulation.
    #[test]
    fn all_layouts_match_f64_on_odd_shapes() {
        for &(m, n, k) in &[
            (1, 1, 1),
            (7, 9, 5),
            (13, 17, 300),
            (250, 70, 520),
            (6, 8, 256),
            // Two column blocks of B (NC), the second a sliver.
            (14, NC + 3, 260),
            // Two row tiles (MC0) even on one thread.
            (MC0 + 40, 20, 30),
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
