//! Rotary position embedding in the rotate-half layout (Hugging Face, lit-gpt): in each head, the pair
//! `(x[d], x[d + hd/2])` rotates by `pos · base^(−2d/hd)`. The backward is the inverse rotation.
//!
//! Angles, sines and cosines are computed in f64 once per position and rounded, so positions in the
//! thousands keep full f32 accuracy.

use crate::simd::F4;

/// Shape of a call over `[b, t, n_heads, head_dim]`, positions `pos_offset + t`.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub b: usize,
    pub t: usize,
    pub n_heads: usize,
    pub head_dim: usize,
    pub base: f64,
    pub pos_offset: usize,
}

impl Shape {
    pub fn size(&self) -> usize {
        self.b * self.t * self.n_heads * self.head_dim
    }
}

/// `x = rope(x)` in place (the out-of-place forward copies first).
pub fn forward(x: &mut [f32], s: &Shape) {
    rotate(x, None, s, 1.0);
}

/// `dx += ropeᵀ(dout)`.
pub fn backward(dx: &mut [f32], dout: &[f32], s: &Shape) {
    rotate(dx, Some(dout), s, -1.0);
}

/// With `src` None, rotates `dst` in place by `sign·angle`; otherwise adds the rotation of `src`.
fn rotate(dst: &mut [f32], src: Option<&[f32]>, s: &Shape, sign: f64) {
    assert!(
        s.head_dim.is_multiple_of(2)
            && dst.len() >= s.size()
            && src.is_none_or(|x| x.len() >= s.size())
    );
    let half = s.head_dim / 2;
    let inv_freq: Vec<f64> = (0..half)
        .map(|d| s.base.powf(-2.0 * d as f64 / s.head_dim as f64))
        .collect();
    let (mut cos, mut sin) = (vec![0.0f32; half], vec![0.0f32; half]);
    let row = s.n_heads * s.head_dim;
    for t in 0..s.t {
        let pos = (s.pos_offset + t) as f64;
        for d in 0..half {
            let angle = pos * inv_freq[d];
            cos[d] = angle.cos() as f32;
            sin[d] = (sign * angle.sin()) as f32;
        }
        for b in 0..s.b {
            for h in 0..s.n_heads {
                let at = (b * s.t + t) * row + h * s.head_dim;
                let head = &mut dst[at..at + s.head_dim];
                match src {
                    None => rotate_head(head, None, &cos, &sin),
                    Some(src) => rotate_head(head, Some(&src[at..at + s.head_dim]), &cos, &sin),
                }
            }
        }
    }
}

/// One head: `y1 = x1·cos − x2·sin`, `y2 = x2·cos + x1·sin`, stored into (or added to) `dst`.
#[inline]
fn rotate_head(dst: &mut [f32], src: Option<&[f32]>, cos: &[f32], sin: &[f32]) {
    let half = cos.len();
    let pd = dst.as_mut_ptr();
    let ps = src.map_or(pd as *const f32, |s| s.as_ptr());
    let add = src.is_some();
    let mut d = 0;
    // SAFETY: d + 4 <= half, so reads/writes at d and d + half stay inside the head (2·half values);
    // `ps` is either `dst` itself (read before written, lane for lane) or a distinct slice.
    unsafe {
        while d + 4 <= half {
            let (x1, x2) = (F4::load(ps.add(d)), F4::load(ps.add(d + half)));
            let (c, s) = (F4::load(cos.as_ptr().add(d)), F4::load(sin.as_ptr().add(d)));
            let mut y1 = x1.mul(c).sub(x2.mul(s));
            let mut y2 = x2.mul(c).add(x1.mul(s));
            if add {
                y1 = y1.add(F4::load(pd.add(d)));
                y2 = y2.add(F4::load(pd.add(d + half)));
            }
            y1.store(pd.add(d));
            y2.store(pd.add(d + half));
            d += 4;
        }
        while d < half {
            let (x1, x2) = (*ps.add(d), *ps.add(d + half));
            let y1 = x1 * cos[d] - x2 * sin[d];
            let y2 = x2 * cos[d] + x1 * sin[d];
            if add {
                *pd.add(d) += y1;
                *pd.add(d + half) += y2;
            } else {
                *pd.add(d) = y1;
                *pd.add(d + half) = y2;
            }
            d += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{close, rand_vec};

    #[test]
    fn backward_inverts_forward_and_matches_f64_rotation() {
        let s = Shape {
            b: 2,
            t: 3,
            n_heads: 3,
            head_dim: 10,
            base: 10000.0,
            pos_offset: 5,
        };
        let x = rand_vec(s.size(), 1);
        let mut y = x.clone();
        forward(&mut y, &s);
        let mut want = vec![0.0f64; s.size()];
        for (i, chunk) in x.chunks(10).enumerate() {
            let pos = (5 + (i / 3) % 3) as f64;
            for d in 0..5 {
                let a = pos * 10000f64.powf(-2.0 * d as f64 / 10.0);
                let (x1, x2) = (chunk[d] as f64, chunk[d + 5] as f64);
                want[i * 10 + d] = x1 * a.cos() - x2 * a.sin();
                want[i * 10 + d + 5] = x2 * a.cos() + x1 * a.sin();
            }
        }
        close(&y, &want, 1e-6);
        let mut back = vec![0.0; s.size()];
        backward(&mut back, &y, &s);
        close(
            &back,
            &x.iter().map(|v| *v as f64).collect::<Vec<_>>(),
            1e-6,
        );
    }
}
