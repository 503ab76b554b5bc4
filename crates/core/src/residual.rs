//! The residual stream's element-wise ops.

use crate::simd::F4;

/// `out[i] = a[i] + b[i]` over `n`, through raw pointers because `out` may alias `a` (in place).
///
/// # Safety
/// Each pointer must address `n` f32 values; `out` may equal `a` or `b` but not partly overlap them.
pub unsafe fn add(out: *mut f32, a: *const f32, b: *const f32, n: usize) {
    let mut i = 0;
    while i + 4 <= n {
        F4::load(a.add(i)).add(F4::load(b.add(i))).store(out.add(i));
        i += 4;
    }
    while i < n {
        *out.add(i) = *a.add(i) + *b.add(i);
        i += 1;
    }
}

/// `dst[i] += src[i]` over `dst.len()`.
pub fn accumulate(dst: &mut [f32], src: &[f32]) {
    crate::simd::axpy(dst, 1.0, src)
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds_in_place_with_tail() {
        let mut a: Vec<f32> = (0..7).map(|i| i as f32).collect();
        let b = vec![10.0f32; 7];
        // SAFETY: both vectors hold 7 values; out aliases a exactly.
        unsafe { super::add(a.as_mut_ptr(), a.as_ptr(), b.as_ptr(), 7) };
        assert_eq!(a, (10..17).map(|i| i as f32).collect::<Vec<_>>());
        super::accumulate(&mut a, &b);
        assert_eq!(a[6], 26.0);
    }
}
