//! Causal grouped-query attention, FlashAttention-2 style: the forward streams over blocks of keys
//! with an online softmax (running max and sum, the partial output rescaled when the max grows) and
//! saves only the log-sum-exp per query; the backward recomputes the probabilities from it, block of
//! keys by block of keys. Nothing of size T×T exists at any time; the scratch is one block of scores.
//!
//! Layouts: `q`, `out`, `dq`, `dout` are `[b, tq, n_head, hd]`; `k`, `v`, `dk`, `dv` are
//! `[b, kv_stride, n_kv, hd]`; `lse` is `[b, n_head, tq]`. Query `i` sits at position `kv_len − tq + i`
//! and sees keys `0 ..= kv_len − tq + i`. Query head `h` reads kv head `h / (n_head / n_kv)`.

use crate::simd::{axpy, dot, exp_shifted_sum, max, scale};

/// Keys per block: 64 scores of scratch, and 64 rows of K and V (32 KiB at hd = 64) reused while hot.
const KEY_BLOCK: usize = 64;

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
}

/// `out = softmax(q·kᵀ/√hd + causal mask)·v`, `lse` = log-sum-exp of each query's scaled scores.
pub fn forward(out: &mut [f32], lse: &mut [f32], q: &[f32], k: &[f32], v: &[f32], s: &Shape) {
    s.check();
    assert!(out.len() >= s.q_len() && q.len() >= s.q_len() && lse.len() >= s.b * s.n_head * s.tq);
    assert!(k.len() >= s.kv_size() && v.len() >= s.kv_size());
    let hd = s.head_dim;
    let sm_scale = 1.0 / (hd as f32).sqrt();
    let mut scores = [0.0f32; KEY_BLOCK];
    for b in 0..s.b {
        for h in 0..s.n_head {
            for i in 0..s.tq {
                let qi = &q[s.q_at(b, i, h)..][..hd];
                let acc = &mut out[s.q_at(b, i, h)..][..hd];
                acc.fill(0.0);
                let visible = s.kv_len - s.tq + i + 1;
                let (mut run_max, mut run_sum) = (f32::NEG_INFINITY, 0.0f32);
                let mut j0 = 0;
                while j0 < visible {
                    let block = &mut scores[..KEY_BLOCK.min(visible - j0)];
                    for (jj, sc) in block.iter_mut().enumerate() {
                        *sc = dot(qi, &k[s.kv_at(b, j0 + jj, h)..][..hd]) * sm_scale;
                    }
                    let new_max = run_max.max(max(block));
                    if new_max > run_max && run_sum > 0.0 {
                        // The old terms were scaled by e^(−run_max): move them to e^(−new_max).
                        let correction = (run_max - new_max).exp();
                        run_sum *= correction;
                        scale(acc, correction);
                    }
                    run_max = new_max;
                    run_sum += exp_shifted_sum(block, run_max);
                    for (jj, p) in block.iter().enumerate() {
                        axpy(acc, *p, &v[s.kv_at(b, j0 + jj, h)..][..hd]);
                    }
                    j0 += block.len();
                }
                scale(acc, 1.0 / run_sum);
                lse[(b * s.n_head + h) * s.tq + i] = run_max + run_sum.ln();
            }
        }
    }
}

/// `dq += …`, `dk += …`, `dv += …`. With `p = e^(q·k/√hd − lse)`, `D_i = dout_i·out_i`:
/// `dv_j += Σ_i p_ij dout_i`, `ds_ij = p_ij (dout_i·v_j − D_i)/√hd`, `dq_i += Σ_j ds_ij k_j`,
/// `dk_j += Σ_i ds_ij q_i`. Keys are the outer loop (blocks of [`KEY_BLOCK`]) so that a block's rows
/// of K, V, dK, dV stay in cache while every query that sees them passes.
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
    let first_pos = s.kv_len - s.tq; // position of query 0
    let mut d_row = vec![0.0f32; s.tq];
    let mut p = [0.0f32; KEY_BLOCK];
    let mut ds = [0.0f32; KEY_BLOCK];
    for b in 0..s.b {
        for h in 0..s.n_head {
            for (i, d) in d_row.iter_mut().enumerate() {
                let at = s.q_at(b, i, h);
                *d = dot(&dout[at..at + hd], &out[at..at + hd]);
            }
            let lse_row = &lse[(b * s.n_head + h) * s.tq..][..s.tq];
            let mut j0 = 0;
            while j0 < s.kv_len {
                let j_end = (j0 + KEY_BLOCK).min(s.kv_len);
                // The first query that sees key j0.
                let i_min = j0.saturating_sub(first_pos);
                for i in i_min..s.tq {
                    let n = (first_pos + i + 1).min(j_end) - j0;
                    let qa = s.q_at(b, i, h);
                    let (qi, di) = (&q[qa..qa + hd], &dout[qa..qa + hd]);
                    for jj in 0..n {
                        p[jj] = dot(qi, &k[s.kv_at(b, j0 + jj, h)..][..hd]) * sm_scale;
                    }
                    exp_shifted_sum(&mut p[..n], lse_row[i]);
                    for jj in 0..n {
                        let dp = dot(di, &v[s.kv_at(b, j0 + jj, h)..][..hd]);
                        ds[jj] = p[jj] * (dp - d_row[i]) * sm_scale;
                    }
                    let dqi = &mut dq[qa..qa + hd];
                    for jj in 0..n {
                        let at = s.kv_at(b, j0 + jj, h);
                        axpy(dqi, ds[jj], &k[at..at + hd]);
                        axpy(&mut dk[at..at + hd], ds[jj], qi);
                        axpy(&mut dv[at..at + hd], p[jj], di);
                    }
                }
                j0 = j_end;
            }
        }
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
