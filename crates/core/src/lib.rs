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
pub mod grad_norm;
pub mod matmul;
pub mod memory;
pub mod residual;
pub mod rmsnorm;
pub mod rope;
pub mod simd;
pub mod swiglu;
#[cfg(test)]
mod testing;

use memory::{slice, slice_i32, slice_mut};

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
    // SAFETY: see the crate's safety contract.
    unsafe {
        rmsnorm::forward(
            slice_mut(out, n * c),
            slice_mut(rstd, n),
            slice(x, n * c),
            slice(weight, c),
            n,
            c,
            eps,
        )
    }
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
    // SAFETY: see the crate's safety contract.
    unsafe {
        rmsnorm::backward(
            slice_mut(dx, n * c),
            slice_mut(dweight, c),
            slice(dout, n * c),
            slice(x, n * c),
            slice(weight, c),
            slice(rstd, n),
            n,
            c,
        )
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
    // SAFETY: see the crate's safety contract; `out` and `x` are equal or disjoint.
    unsafe {
        if out != x {
            std::ptr::copy_nonoverlapping(x as *const f32, out as *mut f32, s.size());
        }
        rope::forward(slice_mut(out, s.size()), &s)
    }
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
    // SAFETY: see the crate's safety contract.
    unsafe { rope::backward(slice_mut(dx, s.size()), slice(dout, s.size()), &s) }
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
    let lse_len = b * n_head * tq;
    // SAFETY: see the crate's safety contract.
    unsafe {
        attention::forward(
            slice_mut(out, s.q_len()),
            slice_mut(lse, lse_len),
            slice(q, s.q_len()),
            slice(k, s.kv_size()),
            slice(v, s.kv_size()),
            &s,
        )
    }
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
    let (ql, kvl) = (s.q_len(), s.kv_size());
    // SAFETY: see the crate's safety contract.
    unsafe {
        attention::backward(
            slice_mut(dq, ql),
            slice_mut(dk, kvl),
            slice_mut(dv, kvl),
            slice(dout, ql),
            slice(q, ql),
            slice(k, kvl),
            slice(v, kvl),
            slice(out, ql),
            slice(lse, b * n_head * tq),
            &s,
        )
    }
}

/// `out = silu(gate) · up`.
#[wasm_bindgen]
pub fn swiglu_forward(out: usize, gate: usize, up: usize, n: usize) {
    // SAFETY: see the crate's safety contract.
    unsafe { swiglu::forward(slice_mut(out, n), slice(gate, n), slice(up, n), n) }
}

/// SwiGLU backward, accumulating into `dgate` and `dup`.
#[wasm_bindgen]
pub fn swiglu_backward(dgate: usize, dup: usize, dout: usize, gate: usize, up: usize, n: usize) {
    // SAFETY: see the crate's safety contract.
    unsafe {
        swiglu::backward(
            slice_mut(dgate, n),
            slice_mut(dup, n),
            slice(dout, n),
            slice(gate, n),
            slice(up, n),
            n,
        )
    }
}

/// `out = a + b`; `out` may equal `a` or `b`.
#[wasm_bindgen]
pub fn add(out: usize, a: usize, b: usize, n: usize) {
    // SAFETY: see the crate's safety contract.
    unsafe { residual::add(out as *mut f32, a as *const f32, b as *const f32, n) }
}

/// `dst += src`.
#[wasm_bindgen]
pub fn accumulate(dst: usize, src: usize, n: usize) {
    // SAFETY: see the crate's safety contract.
    unsafe { residual::accumulate(slice_mut(dst, n), slice(src, n)) }
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
    // SAFETY: see the crate's safety contract.
    unsafe {
        status(cross_entropy::forward_backward(
            slice_mut(losses, n),
            slice_mut(logits, n * v),
            slice_i32(targets, n),
            n,
            v,
            want_grad.then_some(grad_scale),
        ))
    }
}

/// `out[0] += Σ x²` over `n` values.
#[wasm_bindgen]
pub fn sum_squares(out: usize, x: usize, n: usize) {
    // SAFETY: see the crate's safety contract; `out` is one value outside `x`.
    unsafe { grad_norm::sum_squares(&mut slice_mut(out, 1)[0], slice(x, n)) }
}

/// `x *= s[0]` over `n` values.
#[wasm_bindgen]
pub fn scale_by(x: usize, n: usize, s: usize) {
    // SAFETY: see the crate's safety contract; `s` lies outside `x`.
    unsafe { grad_norm::scale_by(slice_mut(x, n), slice(s, 1)[0]) }
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
    // SAFETY: see the crate's safety contract.
    unsafe {
        adamw::step(
            slice_mut(p, n),
            slice(g, n),
            slice_mut(m, n),
            slice_mut(v, n),
            &h,
        )
    }
}
