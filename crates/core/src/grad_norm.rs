//! Global gradient-norm clipping as `torch.nn.utils.clip_grad_norm_`: the squared norm summed over
//! every gradient, a clip factor `min(1, max_norm/(norm + 1e-6))`, and the gradients scaled by it. The
//! factor stays in linear memory so that no value has to travel to the host between the steps.

use crate::simd::{scale, sum_squares_f64};

/// `out += Σ x²` (summed in f64).
pub fn sum_squares(out: &mut f32, x: &[f32]) {
    *out = (*out as f64 + sum_squares_f64(x)) as f32;
}

/// `min(1, max_norm/(sqrt(norm_sq) + 1e-6))`.
pub fn clip_factor(norm_sq: f32, max_norm: f32) -> f32 {
    ((max_norm as f64 / ((norm_sq as f64).sqrt() + 1e-6)).min(1.0)) as f32
}

/// `x *= s`.
pub fn scale_by(x: &mut [f32], s: f32) {
    scale(x, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_a_3_4_5_vector() {
        let mut sq = 1.0;
        sum_squares(&mut sq, &[3.0, 0.0, 4.0]);
        assert_eq!(sq, 26.0);
        assert!((clip_factor(25.0, 1.0) as f64 - 1.0 / (5.0 + 1e-6)).abs() < 1e-8);
        assert_eq!(clip_factor(0.25, 1.0), 1.0);
    }
}
