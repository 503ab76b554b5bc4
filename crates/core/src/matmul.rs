//! The linear layer's matmul, `out = x · wᵀ` (weights in Hugging Face's `[out, in]` layout), and its
//! backward.
//!
//! Forward reads both operands along their contiguous rows: a 2×4 tile of dot products at a time, two
//! rows of `x` against four rows of `w`, eight vector accumulators, so each loaded vector is used two or
//! four times.
//!
//! Both backward products have the form `C[r,:] += Σ_s A(r,s) · B[s,:]` with `B` read along its rows:
//! `dx = dout · w` (A = dout, B = w) and `dw = doutᵀ · x` (A = doutᵀ, read through strides, B = x). One
//! blocked kernel, [`accumulate_products`], serves both: a block of `S_BLOCK` rows of `B`, sixteen
//! columns wide, stays in L1 while every row of `C` passes over it.

use crate::simd::{dot, F4};

/// `out[n,m] = x[n,k] · w[m,k]ᵀ`, overwriting `out`.
pub fn forward(out: &mut [f32], x: &[f32], w: &[f32], n: usize, k: usize, m: usize) {
    assert!(out.len() >= n * m && x.len() >= n * k && w.len() >= m * k);
    let mut i = 0;
    while i + 2 <= n {
        let mut j = 0;
        while j + 4 <= m {
            let d = dot_2x4(x, w, i, j, k);
            for (r, row) in d.iter().enumerate() {
                out[(i + r) * m + j..(i + r) * m + j + 4].copy_from_slice(row);
            }
            j += 4;
        }
        while j < m {
            out[i * m + j] = dot(&x[i * k..(i + 1) * k], &w[j * k..(j + 1) * k]);
            out[(i + 1) * m + j] = dot(&x[(i + 1) * k..(i + 2) * k], &w[j * k..(j + 1) * k]);
            j += 1;
        }
        i += 2;
    }
    while i < n {
        for j in 0..m {
            out[i * m + j] = dot(&x[i * k..(i + 1) * k], &w[j * k..(j + 1) * k]);
        }
        i += 1;
    }
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
        // dx[i,:] += Σ_j dout[i,j] · w[j,:]
        accumulate_products(dx, dout, m, 1, w, n, m, k);
    }
    if let Some(dw) = dw {
        // dw[j,:] += Σ_i dout[i,j] · x[i,:]
        accumulate_products(dw, dout, 1, m, x, m, n, k);
    }
}

/// Rows of `B` per block: 128 rows × 16 columns × 4 bytes = 8 KiB of `B` kept in L1.
const S_BLOCK: usize = 128;

/// `c[r, 0..k] += Σ_{s < inner} a[r·a_row + s·a_col] · b[s, 0..k]` for `r < rows`.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_products(
    c: &mut [f32],
    a: &[f32],
    a_row: usize,
    a_col: usize,
    b: &[f32],
    rows: usize,
    inner: usize,
    k: usize,
) {
    if rows == 0 || inner == 0 || k == 0 {
        return;
    }
    assert!(c.len() >= rows * k && b.len() >= inner * k);
    assert!(a.len() > (rows - 1) * a_row + (inner - 1) * a_col);
    let (pc, pa, pb) = (c.as_mut_ptr(), a.as_ptr(), b.as_ptr());
    let mut s0 = 0;
    while s0 < inner {
        let len = S_BLOCK.min(inner - s0);
        // SAFETY: every tile below stays inside rows × k of `c`, rows × [s0, s0+len) of `a` and
        // [s0, s0+len) × k of `b`, which the asserts above bound.
        unsafe {
            let a_blk = pa.add(s0 * a_col);
            let b_blk = pb.add(s0 * k);
            let mut col = 0;
            while col + 16 <= k {
                tile_rows::<4>(
                    pc.add(col),
                    a_blk,
                    a_row,
                    a_col,
                    b_blk.add(col),
                    rows,
                    len,
                    k,
                );
                col += 16;
            }
            while col + 4 <= k {
                tile_rows::<1>(
                    pc.add(col),
                    a_blk,
                    a_row,
                    a_col,
                    b_blk.add(col),
                    rows,
                    len,
                    k,
                );
                col += 4;
            }
            while col < k {
                for r in 0..rows {
                    let mut acc = 0.0f32;
                    for s in 0..len {
                        acc += *a_blk.add(r * a_row + s * a_col) * *b_blk.add(s * k + col);
                    }
                    *pc.add(r * k + col) += acc;
                }
                col += 1;
            }
        }
        s0 += len;
    }
}

/// All rows of one column strip `4·V` wide, two rows at a time.
///
/// # Safety
/// As [`accumulate_products`]: the strip must lie inside `c` and `b`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile_rows<const V: usize>(
    c: *mut f32,
    a: *const f32,
    a_row: usize,
    a_col: usize,
    b: *const f32,
    rows: usize,
    len: usize,
    k: usize,
) {
    let mut r = 0;
    while r + 2 <= rows {
        tile::<2, V>(c.add(r * k), k, a.add(r * a_row), a_row, a_col, b, k, len);
        r += 2;
    }
    if r < rows {
        tile::<1, V>(c.add(r * k), k, a.add(r * a_row), a_row, a_col, b, k, len);
    }
}

/// The micro-kernel: an `R × 4V` tile of `c` held in `R·V` vector accumulators over `len` steps.
///
/// # Safety
/// `c` must address `R` rows of `4V` values (row stride `ldc`), `b` `len` rows of `4V` (stride `ldb`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile<const R: usize, const V: usize>(
    c: *mut f32,
    ldc: usize,
    a: *const f32,
    a_row: usize,
    a_col: usize,
    b: *const f32,
    ldb: usize,
    len: usize,
) {
    let mut acc = [[F4::splat(0.0); V]; R];
    for s in 0..len {
        let mut bv = [F4::splat(0.0); V];
        for (v, bv) in bv.iter_mut().enumerate() {
            *bv = F4::load(b.add(s * ldb + 4 * v));
        }
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = F4::splat(*a.add(r * a_row + s * a_col));
            for v in 0..V {
                acc[v] = acc[v].add(av.mul(bv[v]));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (v, acc) in acc.iter().enumerate() {
            let p = c.add(r * ldc + 4 * v);
            F4::load(p).add(*acc).store(p);
        }
    }
}

/// Two rows of `x` against four rows of `w`: eight dot products sharing their loads.
fn dot_2x4(x: &[f32], w: &[f32], i: usize, j: usize, k: usize) -> [[f32; 4]; 2] {
    let x0 = &x[i * k..(i + 1) * k];
    let x1 = &x[(i + 1) * k..(i + 2) * k];
    let wr = [
        &w[j * k..(j + 1) * k],
        &w[(j + 1) * k..(j + 2) * k],
        &w[(j + 2) * k..(j + 3) * k],
        &w[(j + 3) * k..(j + 4) * k],
    ];
    let mut acc = [[F4::splat(0.0); 4]; 2];
    let mut p = 0;
    while p + 4 <= k {
        // SAFETY: p + 4 <= k bounds every row slice read.
        unsafe {
            let a0 = F4::load(x0.as_ptr().add(p));
            let a1 = F4::load(x1.as_ptr().add(p));
            for c in 0..4 {
                let b = F4::load(wr[c].as_ptr().add(p));
                acc[0][c] = acc[0][c].add(a0.mul(b));
                acc[1][c] = acc[1][c].add(a1.mul(b));
            }
        }
        p += 4;
    }
    let mut out = [[0.0f32; 4]; 2];
    for c in 0..4 {
        let mut s0 = acc[0][c].hsum();
        let mut s1 = acc[1][c].hsum();
        for q in p..k {
            s0 += x0[q] * wr[c][q];
            s1 += x1[q] * wr[c][q];
        }
        out[0][c] = s0;
        out[1][c] = s1;
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
        for &(n, k, m) in &[(1, 1, 1), (3, 5, 7), (129, 67, 45), (2, 300, 33)] {
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
}
