/* tslint:disable */
/* eslint-disable */

/**
 * One AdamW step over `n` parameters with their gradients and moments.
 */
export function adamw(p: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number, weight_decay: number, step: number): void;

/**
 * `out = a + b`; `out` may equal `a` or `b`.
 */
export function add(out: number, a: number, b: number, n: number): void;

/**
 * Allocates `bytes` bytes aligned to 64 and zero-filled; returns the byte offset.
 */
export function alloc(bytes: number): number;

/**
 * Causal GQA attention backward, accumulating into `dq`, `dk`, `dv`.
 */
export function attention_backward(dq: number, dk: number, dv: number, dout: number, q: number, k: number, v: number, out: number, lse: number, b: number, tq: number, kv_len: number, kv_stride: number, n_head: number, n_kv: number, head_dim: number): void;

/**
 * Causal GQA attention forward (FlashAttention style), writing `out` and `lse`.
 */
export function attention_forward(out: number, lse: number, q: number, k: number, v: number, b: number, tq: number, kv_len: number, kv_stride: number, n_head: number, n_kv: number, head_dim: number): void;

/**
 * `s[0] = min(1, max_norm / (sqrt(norm_sq[0]) + 1e-6))`.
 */
export function clip_factor(s: number, norm_sq: number, max_norm: number): void;

/**
 * Cross-entropy losses of `n` rows of `v` logits, and (when `want_grad`) the scaled gradient written
 * over the logits. Returns the first row whose target is `≥ v`, or −1.
 */
export function cross_entropy(losses: number, logits: number, targets: number, n: number, v: number, want_grad: boolean, grad_scale: number): number;

/**
 * `dtable[ids[n],:] += dout[n,:]`; returns the first row whose id is outside the table, or −1.
 */
export function embedding_backward(dtable: number, table_len: number, dout: number, ids: number, n: number, c: number): number;

/**
 * `out[n,:] = table[ids[n],:]`; returns the first row whose id is outside the table, or −1.
 */
export function embedding_forward(out: number, table: number, table_len: number, ids: number, n: number, c: number): number;

/**
 * `out[n,:] = table[ids[n],:]` from a bf16 table; returns the first row whose id is outside the
 * table, or −1.
 */
export function embedding_forward_bf16(out: number, table: number, table_len: number, ids: number, n: number, c: number): number;

/**
 * Frees a region returned by [`alloc`] with the same size.
 */
export function free(ptr: number, bytes: number): void;

/**
 * The module's linear memory, so that TypeScript can view tensors as typed arrays. (Not named
 * `memory`: that is the name of the memory's own export, and wasm export names must be unique.)
 */
export function linear_memory(): any;

/**
 * `dx += dout · w` (when `want_dx`), `dw += doutᵀ · x` (when `want_dw`).
 */
export function matmul_backward(dx: number, want_dx: boolean, dw: number, want_dw: boolean, dout: number, x: number, w: number, n: number, k: number, m: number): void;

/**
 * `out[n,m] = x[n,k] · w[m,k]ᵀ`.
 */
export function matmul_forward(out: number, x: number, w: number, n: number, k: number, m: number): void;

/**
 * `out[n,m] = x[n,k] · w[m,k]ᵀ` with `w` bf16 bits (widened exactly as they are read).
 */
export function matmul_forward_bf16(out: number, x: number, w: number, n: number, k: number, m: number): void;

/**
 * Sets the most threads that jobs use, the caller included (results do not depend on it).
 */
export function pool_set_threads(threads: number): void;

/**
 * Threads that jobs use now: the caller and the registered workers.
 */
export function pool_threads(): number;

/**
 * RMSNorm backward, accumulating into `dx` and `dweight`.
 */
export function rmsnorm_backward(dx: number, dweight: number, dout: number, x: number, weight: number, rstd: number, n: number, c: number): void;

/**
 * RMSNorm forward over `n` rows of `c`.
 */
export function rmsnorm_forward(out: number, rstd: number, x: number, weight: number, n: number, c: number, eps: number): void;

/**
 * `dx += ropeᵀ(dout)`.
 */
export function rope_backward(dx: number, dout: number, b: number, t: number, n_heads: number, head_dim: number, base: number, pos_offset: number): void;

/**
 * `out = rope(x)`; `out` may equal `x`.
 */
export function rope_forward(out: number, x: number, b: number, t: number, n_heads: number, head_dim: number, base: number, pos_offset: number): void;

/**
 * `x *= s[0]` over `n` values.
 */
export function scale_by(x: number, n: number, s: number): void;

/**
 * `out[0] += Σ x²` over `n` values.
 */
export function sum_squares(out: number, x: number, n: number): void;

/**
 * SwiGLU backward, accumulating into `dgate` and `dup`.
 */
export function swiglu_backward(dgate: number, dup: number, dout: number, gate: number, up: number, n: number): void;

/**
 * `out = silu(gate) · up`.
 */
export function swiglu_forward(out: number, gate: number, up: number, n: number): void;

/**
 * The body of a worker thread (see `pool.rs`): never returns. `slot` is the worker's index, 1 and
 * up, distinct among the workers.
 */
export function worker_loop(slot: number): void;

/**
 * `bytes` zero bytes at `ptr` (a multiple of 4), split over the threads.
 */
export function zero(ptr: number, bytes: number): void;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly adamw: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number) => void;
    readonly add: (a: number, b: number, c: number, d: number) => void;
    readonly alloc: (a: number) => number;
    readonly attention_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number, l: number, m: number, n: number, o: number, p: number) => void;
    readonly attention_forward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number, l: number) => void;
    readonly clip_factor: (a: number, b: number, c: number) => void;
    readonly cross_entropy: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => number;
    readonly embedding_backward: (a: number, b: number, c: number, d: number, e: number, f: number) => number;
    readonly embedding_forward: (a: number, b: number, c: number, d: number, e: number, f: number) => number;
    readonly embedding_forward_bf16: (a: number, b: number, c: number, d: number, e: number, f: number) => number;
    readonly free: (a: number, b: number) => void;
    readonly linear_memory: () => any;
    readonly matmul_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number) => void;
    readonly matmul_forward: (a: number, b: number, c: number, d: number, e: number, f: number) => void;
    readonly matmul_forward_bf16: (a: number, b: number, c: number, d: number, e: number, f: number) => void;
    readonly pool_set_threads: (a: number) => void;
    readonly pool_threads: () => number;
    readonly rmsnorm_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
    readonly rmsnorm_forward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => void;
    readonly rope_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
    readonly rope_forward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
    readonly scale_by: (a: number, b: number, c: number) => void;
    readonly sum_squares: (a: number, b: number, c: number) => void;
    readonly swiglu_backward: (a: number, b: number, c: number, d: number, e: number, f: number) => void;
    readonly swiglu_forward: (a: number, b: number, c: number, d: number) => void;
    readonly worker_loop: (a: number) => void;
    readonly zero: (a: number, b: number) => void;
    readonly memory: WebAssembly.Memory;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __wbindgen_thread_destroy: (a?: number, b?: number, c?: number) => void;
    readonly __wbindgen_start: (a: number) => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput, memory?: WebAssembly.Memory, thread_stack_size?: number }} module - Passing `SyncInitInput` directly is deprecated.
 * @param {WebAssembly.Memory} memory - Deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput, memory?: WebAssembly.Memory, thread_stack_size?: number } | SyncInitInput, memory?: WebAssembly.Memory): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput>, memory?: WebAssembly.Memory, thread_stack_size?: number }} module_or_path - Passing `InitInput` directly is deprecated.
 * @param {WebAssembly.Memory} memory - Deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput>, memory?: WebAssembly.Memory, thread_stack_size?: number } | InitInput | Promise<InitInput>, memory?: WebAssembly.Memory): Promise<InitOutput>;
