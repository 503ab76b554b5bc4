//! `torch.optim.AdamW` (non-fused, `amsgrad=False`), term for term:
//! `p *= 1 − lr·wd`; `m = β1·m + (1−β1)·g`; `v = β2·v + (1−β2)·g²`;
//! `p −= (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + eps)`.

use crate::simd::F4;

/// One step's hyper-parameters (`step` is 1-based).
#[derive(Clone, Copy, Debug)]
pub struct Hyper {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub step: u32,
}

/// Updates `p`, `m`, `v` in place from `g`, over `p.len()` elements.
pub fn step(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], h: &Hyper) {
    let n = p.len();
    assert!(g.len() >= n && m.len() >= n && v.len() >= n);
    let t = h.step as i32;
    let decay = (1.0 - h.lr * h.weight_decay) as f32;
    let step_size = (h.lr / (1.0 - h.beta1.powi(t))) as f32;
    let bc2_sqrt = (1.0 - h.beta2.powi(t)).sqrt() as f32;
    let (b1, b2, eps) = (h.beta1 as f32, h.beta2 as f32, h.eps as f32);
    let (c1, c2) = ((1.0 - h.beta1) as f32, (1.0 - h.beta2) as f32);
    let [vdecay, vb1, vb2, vc1, vc2, vstep, vbc2, veps] =
        [decay, b1, b2, c1, c2, step_size, bc2_sqrt, eps].map(F4::splat);
    let mut i = 0;
    // SAFETY: i + 4 <= n bounds all four slices.
    unsafe {
        while i + 4 <= n {
            let (pp, pm, pv) = (
                p.as_mut_ptr().add(i),
                m.as_mut_ptr().add(i),
                v.as_mut_ptr().add(i),
            );
            let gi = F4::load(g.as_ptr().add(i));
            let mi = vb1.mul(F4::load(pm)).add(vc1.mul(gi));
            let vi = vb2.mul(F4::load(pv)).add(vc2.mul(gi).mul(gi));
            let denom = vi.sqrt().div(vbc2).add(veps);
            let pi = F4::load(pp).mul(vdecay).sub(vstep.mul(mi).div(denom));
            mi.store(pm);
            vi.store(pv);
            pi.store(pp);
            i += 4;
        }
    }
    while i < n {
        m[i] = b1 * m[i] + c1 * g[i];
        v[i] = b2 * v[i] + c2 * g[i] * g[i];
        p[i] = p[i] * decay - step_size * m[i] / (v[i].sqrt() / bc2_sqrt + eps);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_matches_the_hand_derivation() {
        // p = 1, g = 0.5, lr = 0.1, wd = 0.1: p → 0.99 − 0.1·0.5/(0.5 + 1e-8) (m̂/√v̂ = 1 at step 1).
        let h = Hyper {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
            step: 1,
        };
        let (mut p, mut m, mut v) = (vec![1.0f32; 5], vec![0.0f32; 5], vec![0.0f32; 5]);
        step(&mut p, &[0.5; 5], &mut m, &mut v, &h);
        for i in 0..5 {
            assert!((p[i] as f64 - (0.99 - 0.05 / (0.5 + 1e-8))).abs() < 1e-7);
            assert!((m[i] - 0.05).abs() < 1e-8 && (v[i] - 0.0125).abs() < 1e-9);
        }
    }
}
