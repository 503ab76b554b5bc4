//! SwiGLU's gate: `out = silu(gate) · up`, `silu(g) = g·σ(g)`.
//!
//! Backward: `dup = dout·silu(g)`, `dgate = dout·up·σ(g)·(1 + g·(1 − σ(g)))`.

use crate::simd::{exp, F4};

#[inline(always)]
fn sigmoid4(g: F4) -> F4 {
    let one = F4::splat(1.0);
    one.div(one.add(F4::splat(0.0).sub(g).exp()))
}

#[inline(always)]
fn sigmoid(g: f32) -> f32 {
    1.0 / (1.0 + exp(-g))
}

/// `out[i] = silu(gate[i])·up[i]` for `i < n`.
pub fn forward(out: &mut [f32], gate: &[f32], up: &[f32], n: usize) {
    assert!(out.len() >= n && gate.len() >= n && up.len() >= n);
    let mut i = 0;
    // SAFETY: i + 4 <= n bounds all three slices.
    unsafe {
        while i + 4 <= n {
            let g = F4::load(gate.as_ptr().add(i));
            g.mul(sigmoid4(g))
                .mul(F4::load(up.as_ptr().add(i)))
                .store(out.as_mut_ptr().add(i));
            i += 4;
        }
    }
    while i < n {
        out[i] = gate[i] * sigmoid(gate[i]) * up[i];
        i += 1;
    }
}

/// `dgate += …`, `dup += …` for `i < n`.
pub fn backward(
    dgate: &mut [f32],
    dup: &mut [f32],
    dout: &[f32],
    gate: &[f32],
    up: &[f32],
    n: usize,
) {
    assert!(
        dgate.len() >= n && dup.len() >= n && dout.len() >= n && gate.len() >= n && up.len() >= n
    );
    let one = F4::splat(1.0);
    let mut i = 0;
    // SAFETY: i + 4 <= n bounds all five slices.
    unsafe {
        while i + 4 <= n {
            let g = F4::load(gate.as_ptr().add(i));
            let u = F4::load(up.as_ptr().add(i));
            let d = F4::load(dout.as_ptr().add(i));
            let sg = sigmoid4(g);
            let pg = dgate.as_mut_ptr().add(i);
            let dsilu = sg.mul(one.add(g.mul(one.sub(sg))));
            F4::load(pg).add(d.mul(u).mul(dsilu)).store(pg);
            let pu = dup.as_mut_ptr().add(i);
            F4::load(pu).add(d.mul(g).mul(sg)).store(pu);
            i += 4;
        }
    }
    while i < n {
        let (g, sg) = (gate[i], sigmoid(gate[i]));
        dgate[i] += dout[i] * up[i] * sg * (1.0 + g * (1.0 - sg));
        dup[i] += dout[i] * g * sg;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand_vec};

    #[test]
    fn matches_f64_formulas_with_vector_and_tail_lanes() {
        let n = 11;
        let g: Vec<f32> = rand_vec(n, 1).iter().map(|x| x * 6.0).collect();
        let (u, d) = (rand_vec(n, 2), rand_vec(n, 3));
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let mut out = vec![0.0; n];
        forward(&mut out, &g, &u, n);
        close(
            &out,
            &(0..n)
                .map(|i| g[i] as f64 * sig(g[i] as f64) * u[i] as f64)
                .collect::<Vec<_>>(),
            1e-6,
        );
        let (mut dg, mut du) = (vec![1.0; n], vec![2.0; n]);
        backward(&mut dg, &mut du, &d, &g, &u, n);
        let want_dg: Vec<f64> = (0..n)
            .map(|i| {
                let (x, s) = (g[i] as f64, sig(g[i] as f64));
                1.0 + d[i] as f64 * u[i] as f64 * s * (1.0 + x * (1.0 - s))
            })
            .collect();
        close(&dg, &want_dg, 1e-6);
        close(
            &du,
            &(0..n)
                .map(|i| 2.0 + d[i] as f64 * g[i] as f64 * sig(g[i] as f64))
                .collect::<Vec<_>>(),
            1e-6,
        );
    }
}
