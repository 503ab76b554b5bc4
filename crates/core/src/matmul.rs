//! The linear layer's matmul, `out = x · wᵀ` (weights in Hugging Face's `[out, in]` layout), and its
//! backward, all three products through [`gemm`](crate::gemm) with strides choosing the layout:
//!
//! - forward `out[n,m] = x[n,k] · w[m,k]ᵀ`: A = x, B = wᵀ (B(p, j) = w[j, p]);
//! - `dx[n,k] += dout[n,m] · w[m,k]`: A = dout, B = w;
//! - `dw[m,k] += dout[n,m]ᵀ · x[n,k]`: A = doutᵀ (A(j, i) = dout[i, j]), B = x.
//!
//! A forward over a handful of rows (decoding one token at a time) would pack all of `w` to use it
//! once, so rows below [`FEW_ROWS`] take dot products over the rows of `x` and `w` as they lie, split
//! over the threads by columns of `out`.
//!
//! The forward also takes bf16 weights ([`forward_bf16`]: `u16` bits, for inference at half the
//! memory), widened to f32 where they are read (packing, or the dot products' loads): every product
//! and sum is then the one the f32 forward computes on the widened weights, bit for bit.

use crate::gemm::{gemm, Mat};
use crate::pool;
use crate::simd::{dot, Elem, F4};

/// Below this many rows the forward runs as dot products (see the module notes).
const FEW_ROWS: usize = 4;

/// `out[n,m] = x[n,k] · w[m,k]ᵀ`, overwriting `out`.
pub fn forward(out: &mut [f32], x: &[f32], w: &[f32], n: usize, k: usize, m: usize) {
    forward_of(out, x, w, n, k, m)
}

/// [`forward`] with `w` as bf16 bits: the same result as [`forward`] on `w` widened to f32.
pub fn forward_bf16(out: &mut [f32], x: &[f32], w: &[u16], n: usize, k: usize, m: usize) {
    forward_of(out, x, w, n, k, m)
}

/// A weight element type of the forward: how a row's tail is dotted with `x` (f32 keeps [`dot`]).
trait Weight: Elem + Sync {
    fn dot_row(x: &[f32], w: &[Self]) -> f32;
}

impl Weight for f32 {
    fn dot_row(x: &[f32], w: &[f32]) -> f32 {
        dot(x, w)
    }
}

impl Weight for u16 {
    /// [`dot`]'s order (two accumulators over eight values, four left, then the rest), so that the
    /// result is [`dot`]'s on the widened row.
    fn dot_row(x: &[f32], w: &[u16]) -> f32 {
        let k = x.len().min(w.len());
        let (pa, pb) = (x.as_ptr(), w.as_ptr());
        let (mut acc0, mut acc1) = (F4::splat(0.0), F4::splat(0.0));
        let mut p = 0;
        // SAFETY: every load stays below k.
        unsafe {
            while p + 8 <= k {
                acc0 = acc0.add(F4::load(pa.add(p)).mul(u16::load4(pb.add(p))));
                acc1 = acc1.add(F4::load(pa.add(p + 4)).mul(u16::load4(pb.add(p + 4))));
                p += 8;
            }
            if p + 4 <= k {
                acc0 = acc0.add(F4::load(pa.add(p)).mul(u16::load4(pb.add(p))));
                p += 4;
            }
        }
        let mut s = acc0.add(acc1).hsum();
        while p < k {
            s += x[p] * w[p].widen();
            p += 1;
        }
        s
    }
}

fn forward_of<W: Weight>(out: &mut [f32], x: &[f32], w: &[W], n: usize, k: usize, m: usize) {
    assert!(out.len() >= n * m && x.len() >= n * k && w.len() >= m * k);
    if n < FEW_ROWS {
        few_rows(out, x, w, n, k, m);
        return;
    }
    let a = Mat {
        ptr: x.as_ptr(),
        rs: k,
        cs: 1,
    };
    let b = Mat {
        ptr: w.as_ptr(),
        rs: 1,
        cs: k,
    };
    // SAFETY: the asserts bound every operand; `out` is a distinct mutable slice.
    unsafe { gemm(n, m, k, a, b, out.as_mut_ptr(), m, false) }
}

/// `dx[n,k] += dout[n,m] · w[m,k]` and `dw[m,k] += dout[n,m]ᵀ · x[n,k]`; either may be skipped.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dx: Option<&mut [f32]>,
    dw: Option<&mut [f32]>,
    dout: &[f32],
    x: &[f32],
    w: &[f32],
    n: usize,
    k: usize,
    m: usize,
) {
    assert!(dout.len() >= n * m && x.len() >= n * k && w.len() >= m * k);
    if let Some(dx) = dx {
        assert!(dx.len() >= n * k);
        let a = Mat {
            ptr: dout.as_ptr(),
            rs: m,
            cs: 1,
        };
        let b = Mat {
            ptr: w.as_ptr(),
            rs: k,
            cs: 1,
        };
        // SAFETY: as in `forward`.
        unsafe { gemm(n, k, m, a, b, dx.as_mut_ptr(), k, true) }
    }
    if let Some(dw) = dw {
        assert!(dw.len() >= m * k);
        let a = Mat {
            ptr: dout.as_ptr(),
            rs: 1,
            cs: m,
        };
        let b = Mat {
            ptr: x.as_ptr(),
            rs: k,
            cs: 1,
        };
        // SAFETY: as in `forward`.
        unsafe { gemm(m, k, n, a, b, dw.as_mut_ptr(), k, true) }
    }
}

/// Columns of `out` per task of the few-rows forward.
const FEW_ROWS_COLS: usize = 64;

/// The forward for `n < FEW_ROWS` rows: each output a dot product, four columns at a time.
fn few_rows<W: Weight>(out: &mut [f32], x: &[f32], w: &[W], n: usize, k: usize, m: usize) {
    let out_addr = out.as_mut_ptr() as usize;
    pool::for_each(m.div_ceil(FEW_ROWS_COLS), &|t| {
        let (j0, j1) = (t * FEW_ROWS_COLS, ((t + 1) * FEW_ROWS_COLS).min(m));
        for i in 0..n {
            // SAFETY: task `t` writes only columns j0..j1 of each row.
            let row =
                unsafe { std::slice::from_raw_parts_mut((out_addr as *mut f32).add(i * m), m) };
            let xi = &x[i * k..(i + 1) * k];
            let mut j = j0;
            while j + 4 <= j1 {
                let d = dot_1x4(xi, w, j, k);
                row[j..j + 4].copy_from_slice(&d);
                j += 4;
            }
            while j < j1 {
                row[j] = W::dot_row(xi, &w[j * k..(j + 1) * k]);
                j += 1;
            }
        }
    });
}

/// One row of `x` against four rows of `w`: four dot products sharing the loads of `x`.
fn dot_1x4<W: Weight>(x: &[f32], w: &[W], j: usize, k: usize) -> [f32; 4] {
    let wr = [0, 1, 2, 3].map(|c| &w[(j + c) * k..(j + c + 1) * k]);
    let mut acc = [F4::splat(0.0); 4];
    let mut p = 0;
    while p + 4 <= k {
        // SAFETY: p + 4 <= k bounds every row slice read.
        unsafe {
            let a = F4::load(x.as_ptr().add(p));
            for c in 0..4 {
                acc[c] = a.mul_add(W::load4(wr[c].as_ptr().add(p)), acc[c]);
            }
        }
        p += 4;
    }
    let mut out = [0.0f32; 4];
    for c in 0..4 {
        let mut s = acc[c].hsum();
        for q in p..k {
            s += x[q] * wr[c][q].widen();
        }
        out[c] = s;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand_vec};

    fn naive(x: &[f32], w: &[f32], n: usize, k: usize, m: usize) -> Vec<f64> {
        let mut out = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                out[i * m + j] = (0..k)
                    .map(|p| x[i * k + p] as f64 * w[j * k + p] as f64)
                    .sum();
            }
        }
        out
    }

    #[test]
    fn forward_and_backward_match_f64_loops_on_odd_shapes() {
        for &(n, k, m) in &[
            (1, 1, 1),
            (3, 5, 7),
            (129, 67, 45),
            (2, 300, 33),
            (70, 260, 90),
        ] {
            let x = rand_vec(n * k, 1);
            let w = rand_vec(m * k, 2);
            let dout = rand_vec(n * m, 3);
            let mut out = vec![0.0; n * m];
            forward(&mut out, &x, &w, n, k, m);
            close(&out, &naive(&x, &w, n, k, m), 1e-5);

            let mut dx = rand_vec(n * k, 4);
            let mut dw = rand_vec(m * k, 5);
            let (dx0, dw0) = (dx.clone(), dw.clone());
            backward(Some(&mut dx), Some(&mut dw), &dout, &x, &w, n, k, m);
            let mut want_dx = vec![0.0f64; n * k];
            for i in 0..n {
                for p in 0..k {
                    want_dx[i * k + p] = dx0[i * k + p] as f64
                        + (0..m)
                            .map(|j| dout[i * m + j] as f64 * w[j * k + p] as f64)
                            .sum::<f64>();
                }
            }
            let mut want_dw = vec![0.0f64; m * k];
            for j in 0..m {
                for p in 0..k {
                    want_dw[j * k + p] = dw0[j * k + p] as f64
                        + (0..n)
                            .map(|i| dout[i * m + j] as f64 * x[i * k + p] as f64)
                            .sum::<f64>();
                }
            }
            close(&dx, &want_dx, 1e-5);
            close(&dw, &want_dw, 1e-5);
        }
    }

    /// bf16 weights give exactly the f32 forward on the widened weights, on both paths (few rows and
    /// the packed product) and on odd edges.
    #[test]
    fn bf16_forward_equals_f32_forward_on_widened_weights() {
        for &(n, k, m) in &[(1, 1, 1), (1, 13, 9), (3, 300, 33), (7, 67, 45), (70, 260, 90)] {
            let x = rand_vec(n * k, 6);
            let w16: Vec<u16> = rand_vec(m * k, 7)
                .iter()
                .map(|v| (v.to_bits() >> 16) as u16)
                .collect();
            let w32: Vec<f32> = w16.iter().map(|h| h.widen()).collect();
            let (mut a, mut b) = (vec![0.0; n * m], vec![0.0; n * m]);
            forward(&mut a, &x, &w32, n, k, m);
            forward_bf16(&mut b, &x, &w16, n, k, m);
            assert_eq!(
                a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "n {n} k {k} m {m}"
            );
        }
    }
}
