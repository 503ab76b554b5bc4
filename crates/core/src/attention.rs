//! Causal grouped-query attention, FlashAttention-2 style: the forward streams over blocks of keys
//! with an online softmax (running max and sum, the partial output rescaled when the max grows) and
//! saves only the log-sum-exp per query; the backward recomputes the probabilities from it, block of
//! keys by block of keys. Nothing of size T×T exists at any time; the scratch is a few blocks.
//!
//! Work is done a block of `QB` queries against a block of `KB` keys at a time, each product a small
//! matrix multiply through [`gemm_block`] (packed, register-tiled, FMA): `S = Q·Kᵀ`, `O += P·V` in
//! the forward; `dV += Pᵀ·dO`, `dP = dO·Vᵀ`, `dQ += dS·K`, `dK += dSᵀ·Q` in the backward. The
//! softmax and the mask work on the `QB × KB` score block in between.
//!
//! Layouts: `q`, `out`, `dq`, `dout` are `[b, tq, n_head, hd]`; `k`, `v`, `dk`, `dv` are
//! `[b, kv_stride, n_kv, hd]`; `lse` is `[b, n_head, tq]`. Query `i` sits at position `kv_len − tq + i`
//! and sees keys `0 ..= kv_len − tq + i`. Query head `h` reads kv head `h / (n_head / n_kv)`.

use crate::gemm::{gemm_block, Mat};
use crate::simd::{dot, exp_affine_sum, max, scale, F4};

/// Queries per block.
const QB: usize = 64;
/// Keys per block: with `QB`, a 16 KiB score block, and 64 rows of K and V reused while hot.
const KB: usize = 64;

/// Shape of a call (see the module notes).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub b: usize,
    pub tq: usize,
    pub kv_len: usize,
    pub kv_stride: usize,
    pub n_head: usize,
    pub n_kv: usize,
    pub head_dim: usize,
}

impl Shape {
    pub fn q_len(&self) -> usize {
        self.b * self.tq * self.n_head * self.head_dim
    }
    pub fn kv_size(&self) -> usize {
        self.b * self.kv_stride * self.n_kv * self.head_dim
    }
    fn check(&self) {
        assert!(self.n_kv > 0 && self.n_head.is_multiple_of(self.n_kv));
        assert!(self.tq <= self.kv_len && self.kv_len <= self.kv_stride);
    }
    /// Offset of query `i` of head `h` in batch row `b`.
    #[inline]
    fn q_at(&self, b: usize, i: usize, h: usize) -> usize {
        ((b * self.tq + i) * self.n_head + h) * self.head_dim
    }
    /// Offset of key/value `j` serving query head `h` in batch row `b`.
    #[inline]
    fn kv_at(&self, b: usize, j: usize, h: usize) -> usize {
        ((b * self.kv_stride + j) * self.n_kv + h / (self.n_head / self.n_kv)) * self.head_dim
    }
    /// Distance between consecutive queries, and between consecutive keys.
    fn rows(&self) -> (usize, usize) {
        (self.n_head * self.head_dim, self.n_kv * self.head_dim)
    }
    /// Keys of the block at `j0` (`kn` long) that query `i` sees.
    #[inline]
    fn visible(&self, i: usize, j0: usize, kn: usize) -> usize {
        (self.kv_len - self.tq + i + 1).saturating_sub(j0).min(kn)
    }
}

/// A block of rows `rs` apart, read along the row.
fn rows_of(p: &[f32], at: usize, rs: usize) -> Mat {
    Mat {
        ptr: p[at..].as_ptr(),
        rs,
        cs: 1,
    }
}

/// The same block transposed: element `(c, r)` of the result is element `(r, c)` of the rows.
fn cols_of(p: &[f32], at: usize, rs: usize) -> Mat {
    Mat {
        ptr: p[at..].as_ptr(),
        rs: 1,
        cs: rs,
    }
}

/// `out = softmax(q·kᵀ/√hd + causal mask)·v`, `lse` = log-sum-exp of each query's scaled scores.
pub fn forward(out: &mut [f32], lse: &mut [f32], q: &[f32], k: &[f32], v: &[f32], s: &Shape) {
    s.check();
    assert!(out.len() >= s.q_len() && q.len() >= s.q_len() && lse.len() >= s.b * s.n_head * s.tq);
    assert!(k.len() >= s.kv_size() && v.len() >= s.kv_size());
    let hd = s.head_dim;
    let sm_scale = 1.0 / (hd as f32).sqrt();
    let (q_row, kv_row) = s.rows();
    let mut scores = vec![0.0f32; QB * KB];
    let mut acc = vec![0.0f32; QB * hd];
    let (mut run_max, mut run_sum) = ([0.0f32; QB], [0.0f32; QB]);
    for b in 0..s.b {
        for h in 0..s.n_head {
            let mut i0 = 0;
            while i0 < s.tq {
                let qn = QB.min(s.tq - i0);
                acc[..qn * hd].fill(0.0);
                run_max[..qn].fill(f32::NEG_INFINITY);
                run_sum[..qn].fill(0.0);
                let keys = s.visible(i0 + qn - 1, 0, s.kv_len);
                let mut j0 = 0;
                while j0 < keys {
                    let kn = KB.min(keys - j0);
                    // SAFETY: the blocks lie inside q and k (checked above); `scores` holds QB × KB.
                    unsafe {
                        gemm_block(
                            qn,
                            kn,
                            hd,
                            rows_of(q, s.q_at(b, i0, h), q_row),
                            cols_of(k, s.kv_at(b, j0, h), kv_row),
                            scores.as_mut_ptr(),
                            KB,
                            false,
                        );
                    }
                    for r in 0..qn {
                        let row = &mut scores[r * KB..r * KB + kn];
                        let vis = s.visible(i0 + r, j0, kn);
                        if vis == 0 {
                            row.fill(0.0);
                            continue;
                        }
                        // The scale is positive, so the largest scaled score is the scaled largest.
                        let new_max = run_max[r].max(max(&row[..vis]) * sm_scale);
                        if new_max > run_max[r] && run_sum[r] > 0.0 {
                            // The old terms were scaled by e^(−run_max): move them to e^(−new_max).
                            let correction = (run_max[r] - new_max).exp();
                            run_sum[r] *= correction;
                            scale(&mut acc[r * hd..(r + 1) * hd], correction);
                        }
                        run_max[r] = new_max;
                        run_sum[r] += exp_affine_sum(&mut row[..vis], sm_scale, new_max);
                        row[vis..].fill(0.0);
                    }
                    // SAFETY: as above, for v and `acc` (QB × hd).
                    unsafe {
                        gemm_block(
                            qn,
                            hd,
                            kn,
                            rows_of(&scores, 0, KB),
                            rows_of(v, s.kv_at(b, j0, h), kv_row),
                            acc.as_mut_ptr(),
                            hd,
                            true,
                        );
                    }
                    j0 += kn;
                }
                for r in 0..qn {
                    let o = &mut out[s.q_at(b, i0 + r, h)..][..hd];
                    o.copy_from_slice(&acc[r * hd..(r + 1) * hd]);
                    scale(o, 1.0 / run_sum[r]);
                    lse[(b * s.n_head + h) * s.tq + i0 + r] = run_max[r] + run_sum[r].ln();
                }
                i0 += qn;
            }
        }
    }
}

/// `dq += …`, `dk += …`, `dv += …`. With `p = e^(q·k/√hd − lse)`, `D_i = dout_i·out_i`:
/// `dv_j += Σ_i p_ij dout_i`, `ds_ij = p_ij (dout_i·v_j − D_i)/√hd`, `dq_i += Σ_j ds_ij k_j`,
/// `dk_j += Σ_i ds_ij q_i`. Keys are the outer loop (blocks of [`KB`]) so that a block's rows of
/// K, V, dK, dV stay in cache while every block of queries that sees them passes.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    lse: &[f32],
    s: &Shape,
) {
    s.check();
    let (ql, kvl) = (s.q_len(), s.kv_size());
    assert!(dq.len() >= ql && dout.len() >= ql && q.len() >= ql && out.len() >= ql);
    assert!(dk.len() >= kvl && dv.len() >= kvl && k.len() >= kvl && v.len() >= kvl);
    assert!(lse.len() >= s.b * s.n_head * s.tq);
    let hd = s.head_dim;
    let sm_scale = 1.0 / (hd as f32).sqrt();
    let (q_row, kv_row) = s.rows();
    let first_pos = s.kv_len - s.tq; // position of query 0
    let mut d_row = vec![0.0f32; s.tq];
    let mut p = vec![0.0f32; QB * KB];
    let mut ds = vec![0.0f32; QB * KB];
    let (pdq, pdk, pdv) = (dq.as_mut_ptr(), dk.as_mut_ptr(), dv.as_mut_ptr());
    for b in 0..s.b {
        for h in 0..s.n_head {
            for (i, d) in d_row.iter_mut().enumerate() {
                let at = s.q_at(b, i, h);
                *d = dot(&dout[at..at + hd], &out[at..at + hd]);
            }
            let lse_row = &lse[(b * s.n_head + h) * s.tq..][..s.tq];
            let mut j0 = 0;
            while j0 < s.kv_len {
                let kn = KB.min(s.kv_len - j0);
                let ka = s.kv_at(b, j0, h);
                // The first query that sees key j0.
                let mut i0 = j0.saturating_sub(first_pos);
                while i0 < s.tq {
                    let qn = QB.min(s.tq - i0);
                    let qa = s.q_at(b, i0, h);
                    // SAFETY (every gemm_block below): the blocks lie inside the buffers checked
                    // above; `p` and `ds` hold QB × KB; outputs are distinct from inputs.
                    unsafe {
                        gemm_block(
                            qn,
                            kn,
                            hd,
                            rows_of(q, qa, q_row),
                            cols_of(k, ka, kv_row),
                            p.as_mut_ptr(),
                            KB,
                            false,
                        );
                    }
                    for r in 0..qn {
                        let row = &mut p[r * KB..r * KB + kn];
                        let vis = s.visible(i0 + r, j0, kn);
                        exp_affine_sum(&mut row[..vis], sm_scale, lse_row[i0 + r]);
                        row[vis..].fill(0.0);
                    }
                    // dV += Pᵀ · dO, dP = dO · Vᵀ (into ds).
                    unsafe {
                        gemm_block(
                            kn,
                            hd,
                            qn,
                            cols_of(&p, 0, KB),
                            rows_of(dout, qa, q_row),
                            pdv.add(ka),
                            kv_row,
                            true,
                        );
                        gemm_block(
                            qn,
                            kn,
                            hd,
                            rows_of(dout, qa, q_row),
                            cols_of(v, ka, kv_row),
                            ds.as_mut_ptr(),
                            KB,
                            false,
                        );
                    }
                    for r in 0..qn {
                        score_grads(
                            &mut ds[r * KB..r * KB + kn],
                            &p[r * KB..r * KB + kn],
                            d_row[i0 + r],
                            sm_scale,
                        );
                    }
                    // dQ += dS · K, dK += dSᵀ · Q.
                    unsafe {
                        gemm_block(
                            qn,
                            hd,
                            kn,
                            rows_of(&ds, 0, KB),
                            rows_of(k, ka, kv_row),
                            pdq.add(qa),
                            q_row,
                            true,
                        );
                        gemm_block(
                            kn,
                            hd,
                            qn,
                            cols_of(&ds, 0, KB),
                            rows_of(q, qa, q_row),
                            pdk.add(ka),
                            kv_row,
                            true,
                        );
                    }
                    i0 += qn;
                }
                j0 += kn;
            }
        }
    }
}

/// `ds[c] = p[c]·(dp[c] − d)·scale`, with `dp` read from and the result written to `ds`.
fn score_grads(ds: &mut [f32], p: &[f32], d: f32, scale: f32) {
    let n = ds.len().min(p.len());
    let (vd, vs) = (F4::splat(d), F4::splat(scale));
    let mut c = 0;
    // SAFETY: c + 4 <= n bounds both slices.
    unsafe {
        while c + 4 <= n {
            let at = ds.as_mut_ptr().add(c);
            F4::load(p.as_ptr().add(c))
                .mul(F4::load(at).sub(vd))
                .mul(vs)
                .store(at);
            c += 4;
        }
    }
    while c < n {
        ds[c] = p[c] * (ds[c] - d) * scale;
        c += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand_vec};

    /// Plain f64 attention with the scores materialised.
    fn naive(q: &[f32], k: &[f32], v: &[f32], s: &Shape) -> (Vec<f64>, Vec<f64>) {
        let hd = s.head_dim;
        let mut out = vec![0.0f64; s.q_len()];
        let mut lse = vec![0.0f64; s.b * s.n_head * s.tq];
        for b in 0..s.b {
            for h in 0..s.n_head {
                for i in 0..s.tq {
                    let visible = s.kv_len - s.tq + i + 1;
                    let qa = s.q_at(b, i, h);
                    let sc: Vec<f64> = (0..visible)
                        .map(|j| {
                            let ka = s.kv_at(b, j, h);
                            (0..hd)
                                .map(|e| q[qa + e] as f64 * k[ka + e] as f64)
                                .sum::<f64>()
                                / (hd as f64).sqrt()
                        })
                        .collect();
                    let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let l = m + sc.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
                    lse[(b * s.n_head + h) * s.tq + i] = l;
                    for (j, x) in sc.iter().enumerate() {
                        let va = s.kv_at(b, j, h);
                        for e in 0..hd {
                            out[qa + e] += (x - l).exp() * v[va + e] as f64;
                        }
                    }
                }
            }
        }
        (out, lse)
    }

    #[test]
    fn forward_matches_naive_across_key_blocks_and_decode_shapes() {
        for s in [
            Shape {
                b: 2,
                tq: 150,
                kv_len: 150,
                kv_stride: 150,
                n_head: 4,
                n_kv: 2,
                head_dim: 6,
            },
            Shape {
                b: 1,
                tq: 3,
                kv_len: 131,
                kv_stride: 140,
                n_head: 2,
                n_kv: 1,
                head_dim: 8,
            },
        ] {
            let q = rand_vec(s.q_len(), 1)
                .iter()
                .map(|x| x * 3.0)
                .collect::<Vec<_>>();
            let k = rand_vec(s.kv_size(), 2)
                .iter()
                .map(|x| x * 3.0)
                .collect::<Vec<_>>();
            let v = rand_vec(s.kv_size(), 3);
            let (mut out, mut lse) = (vec![0.0; s.q_len()], vec![0.0; s.b * s.n_head * s.tq]);
            forward(&mut out, &mut lse, &q, &k, &v, &s);
            let (want_out, want_lse) = naive(&q, &k, &v, &s);
            close(&out, &want_out, 1e-5);
            close(&lse, &want_lse, 1e-5);
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let s = Shape {
            b: 1,
            tq: 70,
            kv_len: 70,
            kv_stride: 70,
            n_head: 2,
            n_kv: 1,
            head_dim: 4,
        };
        let q = rand_vec(s.q_len(), 4);
        let k = rand_vec(s.kv_size(), 5);
        let v = rand_vec(s.kv_size(), 6);
        let r = rand_vec(s.q_len(), 7);
        let (mut out, mut lse) = (vec![0.0; s.q_len()], vec![0.0; s.b * s.n_head * s.tq]);
        forward(&mut out, &mut lse, &q, &k, &v, &s);
        let (mut dq, mut dk, mut dv) = (
            vec![0.0; s.q_len()],
            vec![0.0; s.kv_size()],
            vec![0.0; s.kv_size()],
        );
        backward(&mut dq, &mut dk, &mut dv, &r, &q, &k, &v, &out, &lse, &s);
        let loss = |q: &[f32], k: &[f32], v: &[f32]| -> f64 {
            naive(q, k, v, &s)
                .0
                .iter()
                .zip(&r)
                .map(|(o, r)| o * *r as f64)
                .sum()
        };
        // f32 inputs: a larger step, checked on a sample of entries.
        let h = 1e-2f32;
        for (which, grad) in [(0, &dq), (1, &dk), (2, &dv)] {
            for idx in (0..grad.len()).step_by(7) {
                let mut xs = [q.clone(), k.clone(), v.clone()];
                xs[which][idx] += h;
                let up = loss(&xs[0], &xs[1], &xs[2]);
                xs[which][idx] -= 2.0 * h;
                let down = loss(&xs[0], &xs[1], &xs[2]);
                let fd = (up - down) / (2.0 * h as f64);
                assert!(
                    (grad[idx] as f64 - fd).abs() < 2e-4,
                    "{which}[{idx}]: {} vs {fd}",
                    grad[idx]
                );
            }
        }
    }
}
