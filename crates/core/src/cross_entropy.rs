//! Softmax cross-entropy over rows of logits, fused with its gradient: `loss = lse(z) − z[target]`,
//! and `∂loss/∂z = softmax(z) − onehot(target)`, written over the logits (scaled) when asked, so the
//! `[N, V]` gradient needs no buffer of its own. A negative target is ignored: loss 0, gradient 0.

use crate::simd::{exp_shifted_sum, max, scale, F4};

/// Σ e^(x[i] − shift) without writing `x`.
fn exp_sum(x: &[f32], shift: f32) -> f32 {
    let k = x.len();
    let vs = F4::splat(shift);
    let (mut a0, mut a1) = (F4::splat(0.0), F4::splat(0.0));
    let mut p = 0;
    // SAFETY: every load stays below k.
    unsafe {
        while p + 8 <= k {
            a0 = a0.add(F4::load(x.as_ptr().add(p)).sub(vs).exp());
            a1 = a1.add(F4::load(x.as_ptr().add(p + 4)).sub(vs).exp());
            p += 8;
        }
    }
    let mut s = a0.add(a1).hsum();
    while p < k {
        s += crate::simd::exp(x[p] - shift);
        p += 1;
    }
    s
}

/// Losses of `n` rows of `v` logits; with `grad_scale` Some, the logits become
/// `grad_scale·(softmax − onehot)` (zero rows for ignored targets). Returns the first row whose target
/// is `≥ v`, having changed nothing from that row on.
pub fn forward_backward(
    losses: &mut [f32],
    logits: &mut [f32],
    targets: &[i32],
    n: usize,
    v: usize,
    grad_scale: Option<f32>,
) -> Option<usize> {
    assert!(losses.len() >= n && logits.len() >= n * v && targets.len() >= n);
    for i in 0..n {
        let target = targets[i];
        if target >= v as i32 {
            return Some(i);
        }
        let row = &mut logits[i * v..(i + 1) * v];
        let m = max(row);
        let z_target = if target < 0 {
            0.0
        } else {
            row[target as usize]
        };
        let Some(gs) = grad_scale else {
            let lse = m + exp_sum(row, m).ln();
            losses[i] = if target < 0 { 0.0 } else { lse - z_target };
            continue;
        };
        if target < 0 {
            losses[i] = 0.0;
            row.fill(0.0);
            continue;
        }
        // One exponential per logit: e^(z − max) stays in the row, and the gradient is that times
        // gs / Σ (minus gs at the target).
        let sum = exp_shifted_sum(row, m);
        losses[i] = m + sum.ln() - z_target;
        scale(row, gs / sum);
        row[target as usize] -= gs;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_gradient_on_a_hand_example() {
        let mut z = vec![0.0, 2f32.ln(), 3f32.ln(), 1.0, 1.0, 1.0];
        let mut losses = vec![9.0; 2];
        assert_eq!(
            forward_backward(&mut losses, &mut z, &[0, -1], 2, 3, None),
            None
        );
        assert!((losses[0] - 6f32.ln()).abs() < 1e-6 && losses[1] == 0.0);
        assert_eq!(
            forward_backward(&mut losses, &mut z, &[0, -1], 2, 3, Some(2.0)),
            None
        );
        let want = [
            2.0 * (1.0 / 6.0 - 1.0),
            2.0 * 2.0 / 6.0,
            2.0 * 3.0 / 6.0,
            0.0,
            0.0,
            0.0,
        ];
        for (g, w) in z.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        assert_eq!(
            forward_backward(&mut losses, &mut z, &[3, 0], 2, 3, None),
            Some(0)
        );
    }
}
