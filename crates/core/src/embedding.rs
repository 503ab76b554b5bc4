//! Token embedding: a row gather forward, a row scatter-add backward.

use crate::simd::{axpy, Elem};

/// `out[i,:] = table[ids[i],:]`. Returns the index of the first id outside `0..vocab`, if any, having
/// written nothing for it or after it.
pub fn forward(out: &mut [f32], table: &[f32], ids: &[i32], n: usize, c: usize) -> Option<usize> {
    forward_of(out, table, ids, n, c)
}

/// [`forward`] from a table of bf16 bits, each value widened (exactly) to f32.
pub fn forward_bf16(
    out: &mut [f32],
    table: &[u16],
    ids: &[i32],
    n: usize,
    c: usize,
) -> Option<usize> {
    forward_of(out, table, ids, n, c)
}

fn forward_of<T: Elem>(
    out: &mut [f32],
    table: &[T],
    ids: &[i32],
    n: usize,
    c: usize,
) -> Option<usize> {
    let vocab = table.len().checked_div(c).unwrap_or(0);
    for i in 0..n {
        let id = ids[i];
        if id < 0 || id as usize >= vocab {
            return Some(i);
        }
        let row = &table[id as usize * c..(id as usize + 1) * c];
        for (o, v) in out[i * c..(i + 1) * c].iter_mut().zip(row) {
            *o = v.widen();
        }
    }
    None
}

/// `dtable[ids[i],:] += dout[i,:]`. Ids are checked first: on a bad one nothing is accumulated.
pub fn backward(
    dtable: &mut [f32],
    dout: &[f32],
    ids: &[i32],
    n: usize,
    c: usize,
) -> Option<usize> {
    let vocab = dtable.len().checked_div(c).unwrap_or(0);
    if let Some(bad) = ids[..n]
        .iter()
        .position(|&id| id < 0 || id as usize >= vocab)
    {
        return Some(bad);
    }
    for i in 0..n {
        let row = ids[i] as usize;
        axpy(
            &mut dtable[row * c..(row + 1) * c],
            1.0,
            &dout[i * c..(i + 1) * c],
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_and_scatters_rows() {
        let table: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let mut out = vec![0.0; 6];
        assert_eq!(forward(&mut out, &table, &[3, 0], 2, 3), None);
        assert_eq!(out, [9.0, 10.0, 11.0, 0.0, 1.0, 2.0]);
        assert_eq!(forward(&mut out, &table, &[1, 4], 2, 3), Some(1));
        let mut d = vec![0.0; 12];
        assert_eq!(
            backward(&mut d, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 2], 2, 3),
            None
        );
        assert_eq!(&d[6..9], &[5.0, 7.0, 9.0]);
        assert_eq!(backward(&mut d, &[1.0; 3], &[-1], 1, 3), Some(0));
    }
}
