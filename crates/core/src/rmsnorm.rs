//! RMSNorm: `out = x · rstd · weight` with `rstd = 1/sqrt(mean(x²) + eps)` saved per row.
//!
//! Backward: with `r = rstd`, `∂r/∂x_j = −r³·x_j/c`, so
//! `dx_j = r·w_j·dout_j − (r³/c)·x_j·Σ_i dout_i·w_i·x_i` and `dw_j = Σ_rows dout_j·x_j·r`.

use crate::simd::{sum_squares, F4};

/// Normalises `n` rows of `c`; writes `out` and `rstd`.
pub fn forward(
    out: &mut [f32],
    rstd: &mut [f32],
    x: &[f32],
    weight: &[f32],
    n: usize,
    c: usize,
    eps: f32,
) {
    assert!(out.len() >= n * c && x.len() >= n * c && rstd.len() >= n && weight.len() >= c);
    for i in 0..n {
        let xr = &x[i * c..(i + 1) * c];
        let r = 1.0 / (sum_squares(xr) / c as f32 + eps).sqrt();
        rstd[i] = r;
        let or = &mut out[i * c..(i + 1) * c];
        let vr = F4::splat(r);
        let mut j = 0;
        // SAFETY: j + 4 <= c bounds the row slices and `weight`.
        unsafe {
            while j + 4 <= c {
                let v = F4::load(xr.as_ptr().add(j))
                    .mul(vr)
                    .mul(F4::load(weight.as_ptr().add(j)));
                v.store(or.as_mut_ptr().add(j));
                j += 4;
            }
        }
        while j < c {
            or[j] = xr[j] * r * weight[j];
            j += 1;
        }
    }
}

/// `dx += …`, `dweight += …` for `n` rows of `c`, from the saved `rstd`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dx: &mut [f32],
    dweight: &mut [f32],
    dout: &[f32],
    x: &[f32],
    weight: &[f32],
    rstd: &[f32],
    n: usize,
    c: usize,
) {
    assert!(dx.len() >= n * c && dout.len() >= n * c && x.len() >= n * c);
    assert!(dweight.len() >= c && weight.len() >= c && rstd.len() >= n);
    for i in 0..n {
        let (xr, dr) = (&x[i * c..(i + 1) * c], &dout[i * c..(i + 1) * c]);
        let gx = &mut dx[i * c..(i + 1) * c];
        let r = rstd[i];
        // Σ dout·w·x
        let mut acc = F4::splat(0.0);
        let mut j = 0;
        // SAFETY: j + 4 <= c bounds every row slice and the weight vectors.
        unsafe {
            while j + 4 <= c {
                let v = F4::load(dr.as_ptr().add(j)).mul(F4::load(weight.as_ptr().add(j)));
                acc = acc.add(v.mul(F4::load(xr.as_ptr().add(j))));
                j += 4;
            }
        }
        let mut dot = acc.hsum();
        for q in j..c {
            dot += dr[q] * weight[q] * xr[q];
        }
        let coef = dot * r * r * r / c as f32;
        let (vr, vcoef) = (F4::splat(r), F4::splat(coef));
        let mut j = 0;
        // SAFETY: as above.
        unsafe {
            while j + 4 <= c {
                let d = F4::load(dr.as_ptr().add(j));
                let xv = F4::load(xr.as_ptr().add(j));
                let w = F4::load(weight.as_ptr().add(j));
                let pgx = gx.as_mut_ptr().add(j);
                F4::load(pgx)
                    .add(d.mul(w).mul(vr))
                    .sub(xv.mul(vcoef))
                    .store(pgx);
                let pgw = dweight.as_mut_ptr().add(j);
                F4::load(pgw).add(d.mul(xv).mul(vr)).store(pgw);
                j += 4;
            }
        }
        while j < c {
            gx[j] += dr[j] * weight[j] * r - xr[j] * coef;
            dweight[j] += dr[j] * xr[j] * r;
            j += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand_vec};

    #[test]
    fn backward_matches_finite_differences_of_forward() {
        let (n, c, eps) = (3, 9, 1e-5f32);
        let x = rand_vec(n * c, 1);
        let w = rand_vec(c, 2);
        let dout = rand_vec(n * c, 3);
        // f64 forward for the central differences.
        let loss = |x: &[f64], w: &[f64]| -> f64 {
            let mut l = 0.0;
            for i in 0..n {
                let ss: f64 = x[i * c..(i + 1) * c].iter().map(|v| v * v).sum();
                let r = 1.0 / (ss / c as f64 + eps as f64).sqrt();
                for j in 0..c {
                    l += dout[i * c + j] as f64 * x[i * c + j] * r * w[j];
                }
            }
            l
        };
        let (x64, w64): (Vec<f64>, Vec<f64>) = (
            x.iter().map(|v| *v as f64).collect(),
            w.iter().map(|v| *v as f64).collect(),
        );
        let h = 1e-6;
        let fd = |v: &[f64], other: &[f64], wrt_x: bool| -> Vec<f64> {
            (0..v.len())
                .map(|i| {
                    let (mut up, mut down) = (v.to_vec(), v.to_vec());
                    up[i] += h;
                    down[i] -= h;
                    if wrt_x {
                        (loss(&up, other) - loss(&down, other)) / (2.0 * h)
                    } else {
                        (loss(other, &up) - loss(other, &down)) / (2.0 * h)
                    }
                })
                .collect()
        };
        let (mut out, mut rstd) = (vec![0.0; n * c], vec![0.0; n]);
        forward(&mut out, &mut rstd, &x, &w, n, c, eps);
        let (mut dx, mut dw) = (vec![0.0; n * c], vec![0.0; c]);
        backward(&mut dx, &mut dw, &dout, &x, &w, &rstd, n, c);
        close(&dx, &fd(&x64, &w64, true), 1e-5);
        close(&dw, &fd(&w64, &x64, false), 1e-5);
    }
}
