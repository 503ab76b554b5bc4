/* @ts-self-types="./tinyllama_core.d.ts" */

/**
 * One AdamW step over `n` parameters with their gradients and moments.
 * @param {number} p
 * @param {number} g
 * @param {number} m
 * @param {number} v
 * @param {number} n
 * @param {number} lr
 * @param {number} beta1
 * @param {number} beta2
 * @param {number} eps
 * @param {number} weight_decay
 * @param {number} step
 */
export function adamw(p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, step) {
    wasm.adamw(p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, step);
}

/**
 * `out = a + b`; `out` may equal `a` or `b`.
 * @param {number} out
 * @param {number} a
 * @param {number} b
 * @param {number} n
 */
export function add(out, a, b, n) {
    wasm.add(out, a, b, n);
}

/**
 * Allocates `bytes` bytes aligned to 64 and zero-filled; returns the byte offset.
 * @param {number} bytes
 * @returns {number}
 */
export function alloc(bytes) {
    const ret = wasm.alloc(bytes);
    return ret >>> 0;
}

/**
 * Causal GQA attention backward, accumulating into `dq`, `dk`, `dv`.
 * @param {number} dq
 * @param {number} dk
 * @param {number} dv
 * @param {number} dout
 * @param {number} q
 * @param {number} k
 * @param {number} v
 * @param {number} out
 * @param {number} lse
 * @param {number} b
 * @param {number} tq
 * @param {number} kv_len
 * @param {number} kv_stride
 * @param {number} n_head
 * @param {number} n_kv
 * @param {number} head_dim
 */
export function attention_backward(dq, dk, dv, dout, q, k, v, out, lse, b, tq, kv_len, kv_stride, n_head, n_kv, head_dim) {
    wasm.attention_backward(dq, dk, dv, dout, q, k, v, out, lse, b, tq, kv_len, kv_stride, n_head, n_kv, head_dim);
}

/**
 * Causal GQA attention forward (FlashAttention style), writing `out` and `lse`.
 * @param {number} out
 * @param {number} lse
 * @param {number} q
 * @param {number} k
 * @param {number} v
 * @param {number} b
 * @param {number} tq
 * @param {number} kv_len
 * @param {number} kv_stride
 * @param {number} n_head
 * @param {number} n_kv
 * @param {number} head_dim
 */
export function attention_forward(out, lse, q, k, v, b, tq, kv_len, kv_stride, n_head, n_kv, head_dim) {
    wasm.attention_forward(out, lse, q, k, v, b, tq, kv_len, kv_stride, n_head, n_kv, head_dim);
}

/**
 * `s[0] = min(1, max_norm / (sqrt(norm_sq[0]) + 1e-6))`.
 * @param {number} s
 * @param {number} norm_sq
 * @param {number} max_norm
 */
export function clip_factor(s, norm_sq, max_norm) {
    wasm.clip_factor(s, norm_sq, max_norm);
}

/**
 * Cross-entropy losses of `n` rows of `v` logits, and (when `want_grad`) the scaled gradient written
 * over the logits. Returns the first row whose target is `≥ v`, or −1.
 * @param {number} losses
 * @param {number} logits
 * @param {number} targets
 * @param {number} n
 * @param {number} v
 * @param {boolean} want_grad
 * @param {number} grad_scale
 * @returns {number}
 */
export function cross_entropy(losses, logits, targets, n, v, want_grad, grad_scale) {
    const ret = wasm.cross_entropy(losses, logits, targets, n, v, want_grad, grad_scale);
    return ret;
}

/**
 * `dtable[ids[n],:] += dout[n,:]`; returns the first row whose id is outside the table, or −1.
 * @param {number} dtable
 * @param {number} table_len
 * @param {number} dout
 * @param {number} ids
 * @param {number} n
 * @param {number} c
 * @returns {number}
 */
export function embedding_backward(dtable, table_len, dout, ids, n, c) {
    const ret = wasm.embedding_backward(dtable, table_len, dout, ids, n, c);
    return ret;
}

/**
 * `out[n,:] = table[ids[n],:]`; returns the first row whose id is outside the table, or −1.
 * @param {number} out
 * @param {number} table
 * @param {number} table_len
 * @param {number} ids
 * @param {number} n
 * @param {number} c
 * @returns {number}
 */
export function embedding_forward(out, table, table_len, ids, n, c) {
    const ret = wasm.embedding_forward(out, table, table_len, ids, n, c);
    return ret;
}

/**
 * `out[n,:] = table[ids[n],:]` from a bf16 table; returns the first row whose id is outside the
 * table, or −1.
 * @param {number} out
 * @param {number} table
 * @param {number} table_len
 * @param {number} ids
 * @param {number} n
 * @param {number} c
 * @returns {number}
 */
export function embedding_forward_bf16(out, table, table_len, ids, n, c) {
    const ret = wasm.embedding_forward_bf16(out, table, table_len, ids, n, c);
    return ret;
}

/**
 * Frees a region returned by [`alloc`] with the same size.
 * @param {number} ptr
 * @param {number} bytes
 */
export function free(ptr, bytes) {
    wasm.free(ptr, bytes);
}

/**
 * The module's linear memory, so that TypeScript can view tensors as typed arrays. (Not named
 * `memory`: that is the name of the memory's own export, and wasm export names must be unique.)
 * @returns {any}
 */
export function linear_memory() {
    const ret = wasm.linear_memory();
    return ret;
}

/**
 * `dx += dout · w` (when `want_dx`), `dw += doutᵀ · x` (when `want_dw`).
 * @param {number} dx
 * @param {boolean} want_dx
 * @param {number} dw
 * @param {boolean} want_dw
 * @param {number} dout
 * @param {number} x
 * @param {number} w
 * @param {number} n
 * @param {number} k
 * @param {number} m
 */
export function matmul_backward(dx, want_dx, dw, want_dw, dout, x, w, n, k, m) {
    wasm.matmul_backward(dx, want_dx, dw, want_dw, dout, x, w, n, k, m);
}

/**
 * `out[n,m] = x[n,k] · w[m,k]ᵀ`.
 * @param {number} out
 * @param {number} x
 * @param {number} w
 * @param {number} n
 * @param {number} k
 * @param {number} m
 */
export function matmul_forward(out, x, w, n, k, m) {
    wasm.matmul_forward(out, x, w, n, k, m);
}

/**
 * `out[n,m] = x[n,k] · w[m,k]ᵀ` with `w` bf16 bits (widened exactly as they are read).
 * @param {number} out
 * @param {number} x
 * @param {number} w
 * @param {number} n
 * @param {number} k
 * @param {number} m
 */
export function matmul_forward_bf16(out, x, w, n, k, m) {
    wasm.matmul_forward_bf16(out, x, w, n, k, m);
}

/**
 * Sets the most threads that jobs use, the caller included (results do not depend on it).
 * @param {number} threads
 */
export function pool_set_threads(threads) {
    wasm.pool_set_threads(threads);
}

/**
 * Threads that jobs use now: the caller and the registered workers.
 * @returns {number}
 */
export function pool_threads() {
    const ret = wasm.pool_threads();
    return ret >>> 0;
}

/**
 * RMSNorm backward, accumulating into `dx` and `dweight`.
 * @param {number} dx
 * @param {number} dweight
 * @param {number} dout
 * @param {number} x
 * @param {number} weight
 * @param {number} rstd
 * @param {number} n
 * @param {number} c
 */
export function rmsnorm_backward(dx, dweight, dout, x, weight, rstd, n, c) {
    wasm.rmsnorm_backward(dx, dweight, dout, x, weight, rstd, n, c);
}

/**
 * RMSNorm forward over `n` rows of `c`.
 * @param {number} out
 * @param {number} rstd
 * @param {number} x
 * @param {number} weight
 * @param {number} n
 * @param {number} c
 * @param {number} eps
 */
export function rmsnorm_forward(out, rstd, x, weight, n, c, eps) {
    wasm.rmsnorm_forward(out, rstd, x, weight, n, c, eps);
}

/**
 * `dx += ropeᵀ(dout)`.
 * @param {number} dx
 * @param {number} dout
 * @param {number} b
 * @param {number} t
 * @param {number} n_heads
 * @param {number} head_dim
 * @param {number} base
 * @param {number} pos_offset
 */
export function rope_backward(dx, dout, b, t, n_heads, head_dim, base, pos_offset) {
    wasm.rope_backward(dx, dout, b, t, n_heads, head_dim, base, pos_offset);
}

/**
 * `out = rope(x)`; `out` may equal `x`.
 * @param {number} out
 * @param {number} x
 * @param {number} b
 * @param {number} t
 * @param {number} n_heads
 * @param {number} head_dim
 * @param {number} base
 * @param {number} pos_offset
 */
export function rope_forward(out, x, b, t, n_heads, head_dim, base, pos_offset) {
    wasm.rope_forward(out, x, b, t, n_heads, head_dim, base, pos_offset);
}

/**
 * `x *= s[0]` over `n` values.
 * @param {number} x
 * @param {number} n
 * @param {number} s
 */
export function scale_by(x, n, s) {
    wasm.scale_by(x, n, s);
}

/**
 * `out[0] += Σ x²` over `n` values.
 * @param {number} out
 * @param {number} x
 * @param {number} n
 */
export function sum_squares(out, x, n) {
    wasm.sum_squares(out, x, n);
}

/**
 * SwiGLU backward, accumulating into `dgate` and `dup`.
 * @param {number} dgate
 * @param {number} dup
 * @param {number} dout
 * @param {number} gate
 * @param {number} up
 * @param {number} n
 */
export function swiglu_backward(dgate, dup, dout, gate, up, n) {
    wasm.swiglu_backward(dgate, dup, dout, gate, up, n);
}

/**
 * `out = silu(gate) · up`.
 * @param {number} out
 * @param {number} gate
 * @param {number} up
 * @param {number} n
 */
export function swiglu_forward(out, gate, up, n) {
    wasm.swiglu_forward(out, gate, up, n);
}

/**
 * The body of a worker thread (see `pool.rs`): never returns. `slot` is the worker's index, 1 and
 * up, distinct among the workers.
 * @param {number} slot
 */
export function worker_loop(slot) {
    wasm.worker_loop(slot);
}

/**
 * `bytes` zero bytes at `ptr` (a multiple of 4), split over the threads.
 * @param {number} ptr
 * @param {number} bytes
 */
export function zero(ptr, bytes) {
    wasm.zero(ptr, bytes);
}
function __wbg_get_imports(memory) {
    const import0 = {
        __proto__: null,
        __wbg___wbindgen_memory_17a1178bc3328ea3: function() {
            const ret = wasm.memory;
            return ret;
        },
        __wbindgen_init_externref_table: function() {
            const table = wasm.__wbindgen_externrefs;
            table.set(0, undefined);
            table.set(1024, undefined);
            table.set(1025, null);
            table.set(1026, true);
            table.set(1027, false);
        },
        memory: memory || new WebAssembly.Memory({initial:18,maximum:65536,shared:true}),
    };
    return {
        __proto__: null,
        "./tinyllama_core_bg.js": import0,
    };
}

let wasmModule, wasmInstance, wasm;
function __wbg_finalize_init(instance, module, thread_stack_size) {
    wasmInstance = instance;
    wasm = instance.exports;
    wasmModule = module;
    if (typeof thread_stack_size !== 'undefined' && (typeof thread_stack_size !== 'number' || thread_stack_size === 0 || thread_stack_size % 65536 !== 0)) {
        throw new Error('invalid stack size');
    }

    wasm.__wbindgen_start(thread_stack_size);
    return wasm;
}

async function __wbg_load(module, imports) {
    if (typeof Response === 'function' && module instanceof Response) {
        if (!module.ok) {
            throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
        }

        if (typeof WebAssembly.instantiateStreaming === 'function') {
            try {
                return await WebAssembly.instantiateStreaming(module, imports);
            } catch (e) {
                const validResponse = expectedResponseType(module.type);

                if (validResponse && module.headers.get('Content-Type') !== 'application/wasm') {
                    console.warn("`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\n", e);

                } else { throw e; }
            }
        }

        const bytes = await module.arrayBuffer();
        return await WebAssembly.instantiate(bytes, imports);
    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }

    function expectedResponseType(type) {
        switch (type) {
            case 'basic': case 'cors': case 'default': return true;
        }
        return false;
    }
}

function initSync(module, memory) {
    if (wasm !== undefined) return wasm;

    let thread_stack_size
    if (module !== undefined) {
        if (Object.getPrototypeOf(module) === Object.prototype) {
            ({module, memory, thread_stack_size} = module)
        } else {
            console.warn('using deprecated parameters for `initSync()`; pass a single object instead')
        }
    }

    const imports = __wbg_get_imports(memory);
    if (!(module instanceof WebAssembly.Module)) {
        module = new WebAssembly.Module(module);
    }
    const instance = new WebAssembly.Instance(module, imports);
    return __wbg_finalize_init(instance, module, thread_stack_size);
}

let __wbg_init_promise;
async function __wbg_init(module_or_path, memory) {
    if (wasm !== undefined) return wasm;
    if (__wbg_init_promise === undefined) {
        __wbg_init_promise = __wbg_init_once(module_or_path, memory);
        __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
    }
    return __wbg_init_promise;
}

async function __wbg_init_once(module_or_path, memory) {
    let thread_stack_size
    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path, memory, thread_stack_size} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }

    if (module_or_path === undefined) {
        module_or_path = new URL('tinyllama_core_bg.wasm', import.meta.url);
    }
    const imports = __wbg_get_imports(memory);

    if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
        module_or_path = fetch(module_or_path);
    }

    const { instance, module } = await __wbg_load(await module_or_path, imports);

    return __wbg_finalize_init(instance, module, thread_stack_size);
}

export { initSync, __wbg_init as default };
