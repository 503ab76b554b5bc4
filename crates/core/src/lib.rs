#![cfg_attr(target_arch = "wasm32", feature(stdarch_wasm_atomic_wait))]
//! Compute core of tinyllama-ts.
//!
//! Every tensor lives in this module's linear memory. TypeScript allocates regions once (parameters,
//! gradients, optimizer moments, activations) and passes byte offsets to the kernels, so no kernel call
//! copies or allocates tensors. The exported functions are thin: each one turns offsets into slices and
//! calls a plain Rust function (one module per op, forward beside backward) that is unit-testable on
//! the host.
//!
//! Safety contract of every export: each offset addresses a region from [`alloc`] large enough for
//! the shape passed (wasm_backend.ts checks sizes before calling), and an output never overlaps an
//! input unless the op says so (`add` and `rope_forward` allow exact aliasing).

use wasm_bindgen::prelude::*;

pub mod adamw;
pub mod attention;
pub mod cross_entropy;
pub mod embedding;
pub mod gemm;
pub mod grad_norm;
pub mod matmul;
pub mod memory;
pub mod pool;
pub mod residual;
pub mod rmsnorm;
pub mod rope;
pub mod simd;
pub mod swiglu;
#[cfg(test)]
mod testing;

use memory::{slice, slice_i32, slice_mut};
use pool::for_chunks;

/// Elements per task of the element-wise ops (256 KiB of f32: long enough to dwarf a task's cost).
const ELEMS: usize = 1 << 16;
/// Rows per task of the row-wise ops (norms, the loss).
const ROWS: usize = 32;
const F32: usize = 4;

/// The module's linear memory, so that TypeScript can view tensors as typed arrays. (Not named
/// `memory`: that is the name of the memory's own export, and wasm export names must be unique.)
#[wasm_bindgen]
pub fn linear_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Allocates `bytes` bytes aligned to 64 and zero-filled; returns the byte offset.
#[wasm_bindgen]
pub fn alloc(bytes: usize) -> usize {
    memory::alloc(bytes)
}

/// `bytes` zero bytes at `ptr` (a multiple of 4), split over the threads.
#[wasm_bindgen]
pub fn zero(ptr: usize, bytes: usize) {
    for_chunks(bytes / F32, ELEMS, &|i0, i1| {
        // SAFETY: see the crate's safety contract; tasks write disjoint ranges.
        unsafe { std::ptr::write_bytes((ptr + i0 * F32) as *mut f32, 0, i1 - i0) }
    });
}

/// Frees a region returned by [`alloc`] with the same size.
#[wasm_bindgen]
pub fn free(ptr: usize, bytes: usize) {
    memory::free(ptr, bytes)
}

fn status(bad: Option<usize>) -> i32 {
    bad.map_or(-1, |i| i as i32)
}

/// `out[n,:] = table[ids[n],:]`; returns the first row whose id is outside the table, or −1.
#[wasm_bindgen]
pub fn embedding_forward(
    out: usize,
    table: usize,
    table_len: usize,
    ids: usize,
    n: usize,
    c: usize,
) -> i32 {
    // SAFETY: see the crate's safety contract.
    unsafe {
        status(embedding::forward(
            slice_mut(out, n * c),
            slice(table, table_len),
            slice_i32(ids, n),
            n,
            c,
        ))
    }
}

/// `dtable[ids[n],:] += dout[n,:]`; returns the first row whose id is outside the table, or −1.
#[wasm_bindgen]
pub fn embedding_backward(
    dtable: usize,
    table_len: usize,
    dout: usize,
    ids: usize,
    n: usize,
    c: usize,
) -> i32 {
    // SAFETY: see the crate's safety contract.
    unsafe {
        status(embedding::backward(
            slice_mut(dtable, table_len),
            slice(dout, n * c),
            slice_i32(ids, n),
            n,
            c,
        ))
    }
}

/// RMSNorm forward over `n` rows of `c`.
#[wasm_bindgen]
pub fn rmsnorm_forward(
    out: usize,
    rstd: usize,
    x: usize,
    weight: usize,
    n: usize,
    c: usize,
    eps: f32,
) {
    for_chunks(n, ROWS, &|i0, i1| {
        // SAFETY: see the crate's safety contract; tasks write disjoint rows.
        unsafe {
            rmsnorm::forward(
                slice_mut(out + i0 * c * F32, (i1 - i0) * c),
                slice_mut(rstd + i0 * F32, i1 - i0),
                slice(x + i0 * c * F32, (i1 - i0) * c),
                slice(weight, c),
                i1 - i0,
                c,
                eps,
            )
        }
    });
}

/// RMSNorm backward, accumulating into `dx` and `dweight`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn rmsnorm_backward(
    dx: usize,
    dweight: usize,
    dout: usize,
    x: usize,
    weight: usize,
    rstd: usize,
    n: usize,
    c: usize,
) {
    // Each chunk of rows sums its share of `dweight` apart; the shares are added in chunk order, so
    // the result does not depend on the thread count.
    let chunks = n.div_ceil(ROWS);
    let mut shares = vec![0.0f32; chunks * c];
    let shares_at = shares.as_mut_ptr() as usize;
    for_chunks(n, ROWS, &|i0, i1| {
        // SAFETY: see the crate's safety contract; tasks write disjoint rows and shares.
        unsafe {
            rmsnorm::backward(
                slice_mut(dx + i0 * c * F32, (i1 - i0) * c),
                slice_mut(shares_at + (i0 / ROWS) * c * F32, c),
                slice(dout + i0 * c * F32, (i1 - i0) * c),
                slice(x + i0 * c * F32, (i1 - i0) * c),
                slice(weight, c),
                slice(rstd + i0 * F32, i1 - i0),
                i1 - i0,
                c,
            )
        }
    });
    // SAFETY: see the crate's safety contract.
    let dweight = unsafe { slice_mut(dweight, c) };
    for share in shares.chunks_exact(c) {
        residual::accumulate(dweight, share);
    }
}

/// `out[n,m] = x[n,k] · w[m,k]ᵀ`.
#[wasm_bindgen]
pub fn matmul_forward(out: usize, x: usize, w: usize, n: usize, k: usize, m: usize) {
    // SAFETY: see the crate's safety contract.
    unsafe {
        matmul::forward(
            slice_mut(out, n * m),
            slice(x, n * k),
            slice(w, m * k),
            n,
            k,
            m,
        )
    }
}

/// `dx += dout · w` (when `want_dx`), `dw += doutᵀ · x` (when `want_dw`).
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn matmul_backward(
    dx: usize,
    want_dx: bool,
    dw: usize,
    want_dw: bool,
    dout: usize,
    x: usize,
    w: usize,
    n: usize,
    k: usize,
    m: usize,
) {
    // SAFETY: see the crate's safety contract.
    unsafe {
        matmul::backward(
            want_dx.then(|| slice_mut(dx, n * k)),
            want_dw.then(|| slice_mut(dw, m * k)),
            slice(dout, n * m),
            slice(x, n * k),
            slice(w, m * k),
            n,
            k,
            m,
        )
    }
}

/// `out = rope(x)`; `out` may equal `x`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn rope_forward(
    out: usize,
    x: usize,
    b: usize,
    t: usize,
    n_heads: usize,
    head_dim: usize,
    base: f64,
    pos_offset: usize,
) {
    let s = rope::Shape {
        b,
        t,
        n_heads,
        head_dim,
        base,
        pos_offset,
    };
    let row = rope::Shape { b: 1, ..s };
    let bytes = row.size() * F32;
    for_chunks(b, 1, &|r, _| {
        // SAFETY: see the crate's safety contract; `out` and `x` are equal or disjoint, and tasks
        // write disjoint batch rows.
        unsafe {
            if out != x {
                std::ptr::copy_nonoverlapping(
                    (x + r * bytes) as *const f32,
                    (out + r * bytes) as *mut f32,
                    row.size(),
                );
            }
            rope::forward(slice_mut(out + r * bytes, row.size()), &row)
        }
    });
}

/// `dx += ropeᵀ(dout)`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn rope_backward(
    dx: usize,
    dout: usize,
    b: usize,
    t: usize,
    n_heads: usize,
    head_dim: usize,
    base: f64,
    pos_offset: usize,
) {
    let s = rope::Shape {
        b,
        t,
        n_heads,
        head_dim,
        base,
        pos_offset,
    };
    let row = rope::Shape { b: 1, ..s };
    let bytes = row.size() * F32;
    for_chunks(b, 1, &|r, _| {
        // SAFETY: see the crate's safety contract; tasks write disjoint batch rows.
        unsafe {
            rope::backward(
                slice_mut(dx + r * bytes, row.size()),
                slice(dout + r * bytes, row.size()),
                &row,
            )
        }
    });
}

/// Causal GQA attention forward (FlashAttention style), writing `out` and `lse`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    out: usize,
    lse: usize,
    q: usize,
    k: usize,
    v: usize,
    b: usize,
    tq: usize,
    kv_len: usize,
    kv_stride: usize,
    n_head: usize,
    n_kv: usize,
    head_dim: usize,
) {
    let s = attention::Shape {
        b,
        tq,
        kv_len,
        kv_stride,
        n_head,
        n_kv,
        head_dim,
    };
    // One task per batch row: its queries, keys, values and log-sum-exps are contiguous.
    let row = attention::Shape { b: 1, ..s };
    let (qb, kvb, lb) = (row.q_len() * F32, row.kv_size() * F32, n_head * tq * F32);
    for_chunks(b, 1, &|r, _| {
        // SAFETY: see the crate's safety contract; tasks write disjoint batch rows.
        unsafe {
            attention::forward(
                slice_mut(out + r * qb, row.q_len()),
                slice_mut(lse + r * lb, n_head * tq),
                slice(q + r * qb, row.q_len()),
                slice(k + r * kvb, row.kv_size()),
                slice(v + r * kvb, row.kv_size()),
                &row,
            )
        }
    });
}

/// Causal GQA attention backward, accumulating into `dq`, `dk`, `dv`.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    dq: usize,
    dk: usize,
    dv: usize,
    dout: usize,
    q: usize,
    k: usize,
    v: usize,
    out: usize,
    lse: usize,
    b: usize,
    tq: usize,
    kv_len: usize,
    kv_stride: usize,
    n_head: usize,
    n_kv: usize,
    head_dim: usize,
) {
    let s = attention::Shape {
        b,
        tq,
        kv_len,
        kv_stride,
        n_head,
        n_kv,
        head_dim,
    };
    // One task per batch row, as the forward; each owns its rows of dq, dk and dv.
    let row = attention::Shape { b: 1, ..s };
    let (ql, kvl) = (row.q_len(), row.kv_size());
    let (qb, kvb, lb) = (ql * F32, kvl * F32, n_head * tq * F32);
    for_chunks(b, 1, &|r, _| {
        let (qo, ko) = (r * qb, r * kvb);
        // SAFETY: see the crate's safety contract; tasks write disjoint batch rows.
        unsafe {
            attention::backward(
                slice_mut(dq + qo, ql),
                slice_mut(dk + ko, kvl),
                slice_mut(dv + ko, kvl),
                slice(dout + qo, ql),
                slice(q + qo, ql),
                slice(k + ko, kvl),
                slice(v + ko, kvl),
                slice(out + qo, ql),
                slice(lse + r * lb, n_head * tq),
                &row,
            )
        }
    });
}

/// `out = silu(gate) · up`.
#[wasm_bindgen]
pub fn swiglu_forward(out: usize, gate: usize, up: usize, n: usize) {
    for_chunks(n, ELEMS, &|i0, i1| {
        let (o, len) = (i0 * F32, i1 - i0);
        // SAFETY: see the crate's safety contract; tasks write disjoint ranges.
        unsafe {
            swiglu::forward(
                slice_mut(out + o, len),
                slice(gate + o, len),
                slice(up + o, len),
                len,
            )
        }
    });
}

/// SwiGLU backward, accumulating into `dgate` and `dup`.
#[wasm_bindgen]
pub fn swiglu_backward(dgate: usize, dup: usize, dout: usize, gate: usize, up: usize, n: usize) {
    for_chunks(n, ELEMS, &|i0, i1| {
        let (o, len) = (i0 * F32, i1 - i0);
        // SAFETY: see the crate's safety contract; tasks write disjoint ranges.
        unsafe {
            swiglu::backward(
                slice_mut(dgate + o, len),
                slice_mut(dup + o, len),
                slice(dout + o, len),
                slice(gate + o, len),
                slice(up + o, len),
                len,
            )
        }
    });
}

/// `out = a + b`; `out` may equal `a` or `b`.
#[wasm_bindgen]
pub fn add(out: usize, a: usize, b: usize, n: usize) {
    for_chunks(n, ELEMS, &|i0, i1| {
        let o = i0 * F32;
        // SAFETY: see the crate's safety contract; tasks write disjoint ranges.
        unsafe {
            residual::add(
                (out + o) as *mut f32,
                (a + o) as *const f32,
                (b + o) as *const f32,
                i1 - i0,
            )
        }
    });
}

/// Cross-entropy losses of `n` rows of `v` logits, and (when `want_grad`) the scaled gradient written
/// over the logits. Returns the first row whose target is `≥ v`, or −1.
#[wasm_bindgen]
pub fn cross_entropy(
    losses: usize,
    logits: usize,
    targets: usize,
    n: usize,
    v: usize,
    want_grad: bool,
    grad_scale: f32,
) -> i32 {
    // Targets are checked first (nothing changes when one is out of range), then rows run in parallel.
    // SAFETY: see the crate's safety contract.
    let bad = unsafe { slice_i32(targets, n) }
        .iter()
        .position(|&t| t >= v as i32);
    if bad.is_some() {
        return status(bad);
    }
    for_chunks(n, ROWS, &|i0, i1| {
        // SAFETY: see the crate's safety contract; tasks write disjoint rows.
        unsafe {
            cross_entropy::forward_backward(
                slice_mut(losses + i0 * F32, i1 - i0),
                slice_mut(logits + i0 * v * F32, (i1 - i0) * v),
                slice_i32(targets + i0 * F32, i1 - i0),
                i1 - i0,
                v,
                want_grad.then_some(grad_scale),
            );
        }
    });
    -1
}

/// `out[0] += Σ x²` over `n` values.
#[wasm_bindgen]
pub fn sum_squares(out: usize, x: usize, n: usize) {
    // Per-chunk sums in f64, added in chunk order (independent of the thread count).
    let chunks = n.div_ceil(ELEMS);
    let shares: Vec<std::sync::atomic::AtomicU64> =
        (0..chunks).map(|_| Default::default()).collect();
    for_chunks(n, ELEMS, &|i0, i1| {
        // SAFETY: see the crate's safety contract.
        let s = simd::sum_squares_f64(unsafe { slice(x + i0 * F32, i1 - i0) });
        shares[i0 / ELEMS].store(s.to_bits(), std::sync::atomic::Ordering::Relaxed);
    });
    let total: f64 = shares
        .iter()
        .map(|s| f64::from_bits(s.load(std::sync::atomic::Ordering::Relaxed)))
        .sum();
    // SAFETY: see the crate's safety contract; `out` is one value outside `x`.
    let out = unsafe { &mut slice_mut(out, 1)[0] };
    *out = (*out as f64 + total) as f32;
}

/// `x *= s[0]` over `n` values.
#[wasm_bindgen]
pub fn scale_by(x: usize, n: usize, s: usize) {
    // SAFETY: see the crate's safety contract; `s` lies outside `x`.
    let s = unsafe { slice(s, 1)[0] };
    for_chunks(n, ELEMS, &|i0, i1| {
        // SAFETY: as above; tasks write disjoint ranges.
        unsafe { grad_norm::scale_by(slice_mut(x + i0 * F32, i1 - i0), s) }
    });
}

/// `s[0] = min(1, max_norm / (sqrt(norm_sq[0]) + 1e-6))`.
#[wasm_bindgen]
pub fn clip_factor(s: usize, norm_sq: usize, max_norm: f32) {
    // SAFETY: see the crate's safety contract.
    unsafe { slice_mut(s, 1)[0] = grad_norm::clip_factor(slice(norm_sq, 1)[0], max_norm) }
}

/// One AdamW step over `n` parameters with their gradients and moments.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn adamw(
    p: usize,
    g: usize,
    m: usize,
    v: usize,
    n: usize,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    step: u32,
) {
    let h = adamw::Hyper {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
        step,
    };
    for_chunks(n, ELEMS, &|i0, i1| {
        let (o, len) = (i0 * F32, i1 - i0);
        // SAFETY: see the crate's safety contract; tasks write disjoint ranges.
        unsafe {
            adamw::step(
                slice_mut(p + o, len),
                slice(g + o, len),
                slice_mut(m + o, len),
                slice_mut(v + o, len),
                &h,
            )
        }
    });
}

// ---- threads ----

/// The body of a worker thread (see `pool.rs`): never returns. `slot` is the worker's index, 1 and
/// up, distinct among the workers.
#[wasm_bindgen]
pub fn worker_loop(slot: usize) {
    pool::worker_loop(slot)
}

/// Sets the most threads that jobs use, the caller included (results do not depend on it).
#[wasm_bindgen]
pub fn pool_set_threads(threads: usize) {
    pool::set_limit(threads)
}

/// Threads that jobs use now: the caller and the registered workers.
#[wasm_bindgen]
pub fn pool_threads() -> usize {
    pool::threads()
}

/// Reads `len` bf16 values (u16 bits) at `ptr`.
///
/// # Safety
/// As [`memory::slice`], for u16 values.
unsafe fn slice_u16<'a>(ptr: usize, len: usize) -> &'a [u16] {
    if len == 0 {
        return &[];
    }
    std::slice::from_raw_parts(ptr as *const u16, len)
}

/// `out[n,m] = x[n,k] · w[m,k]ᵀ` with `w` bf16 bits (widened exactly as they are read).
#[wasm_bindgen]
pub fn matmul_forward_bf16(out: usize, x: usize, w: usize, n: usize, k: usize, m: usize) {
    // SAFETY: see the crate's safety contract.
    unsafe {
        matmul::forward_bf16(
            slice_mut(out, n * m),
            slice(x, n * k),
            slice_u16(w, m * k),
            n,
            k,
            m,
        )
    }
}

/// `out[n,:] = table[ids[n],:]` from a bf16 table; returns the first row whose id is outside the
/// table, or −1.
#[wasm_bindgen]
pub fn embedding_forward_bf16(
    out: usize,
    table: usize,
    table_len: usize,
    ids: usize,
    n: usize,
    c: usize,
) -> i32 {
    // SAFETY: see the crate's safety contract.
    unsafe {
        status(embedding::forward_bf16(
            slice_mut(out, n * c),
            slice_u16(table, table_len),
            slice_i32(ids, n),
            n,
            c,
        ))
    }
}
