# The matmul micro-kernel of `gemm.rs` for wasm32, in WebAssembly text (assembled by `build.rs`):
#
#     tl_gemm_micro_6x8(kc, a, b, c, ldc, add)
#
# sums `a[p·6 + r] · b[p·8 + j]` over the steps `p < kc` (a multiple of 8) for a 6 × 8 block and
# writes it to (or, with `add` non-zero, adds it to) the block at `c`, whose rows are `ldc` bytes
# apart. `a` and `b` are the packed micro-panels of A and B.
#
# Why by hand: on x86-64 V8 has 15 vector registers for wasm, and this block needs exactly 15 at once
# (twelve accumulators, two vectors of B, one broadcast value of A) if every step runs in order: load
# B, then per row one broadcast and two multiply-adds. LLVM's wasm backend does not keep that order:
# it builds one expression tree per accumulator across the unrolled steps, so all of the unrolled
# loads are live at once and V8 spills accumulators to the stack in every turn (measured: 33 GFLOP/s
# for this tile written in Rust, 47 as here, on one Zen 4 core at 1024³).
#
# In the loop, addresses are `base + constant` by `i32.add`, not load offsets: Deno runs wasm without
# guard pages, so V8 bounds-checks every access against the memory size less the offset, and the
# constant would be one more subtraction per load. (The stores into C at the end use offsets.)

    .text
    .globl  tl_gemm_micro_6x8
    .type   tl_gemm_micro_6x8,@function
    .altmacro

# Locals: 0 kc, 1 a, 2 b, 3 c, 4 ldc, 5 add (the parameters); the accumulator of row r, vector v is
# 6 + 2r + v; 18 and 19 the current step's vectors of B; 20 the current row's value of A in all four
# lanes.

# Pushes local `base` plus `off` bytes.
.macro address base, off
    local.get   \base
    .if \off
    i32.const   \off
    i32.add
    .endif
.endm

# acc += local 20 · local bv, one rounding (relaxed SIMD's multiply-add is an FMA on x86-64 and ARM).
.macro madd acc, bv
    local.get   20
    local.get   \bv
    local.get   \acc
    f32x4.relaxed_madd
    local.set   \acc
.endm

.macro row p, r
    address 1, %((p * 6 + r) * 4)
    v128.load32_splat 0
    local.set   20
    madd %(6 + 2 * r), 18
    madd %(7 + 2 * r), 19
.endm

.macro step p
    address 2, %(p * 32)
    v128.load   0
    local.set   18
    address 2, %(p * 32 + 16)
    v128.load   0
    local.set   19
    .irp r, 0, 1, 2, 3, 4, 5
    row p, r
    .endr
.endm

.macro store_row acc, acc1
    local.get   3
    local.get   \acc
    v128.store  0
    local.get   3
    local.get   \acc1
    v128.store  16
.endm

.macro add_row acc, acc1
    local.get   3
    local.get   3
    v128.load   0
    local.get   \acc
    f32x4.add
    v128.store  0
    local.get   3
    local.get   3
    v128.load   16
    local.get   \acc1
    f32x4.add
    v128.store  16
.endm

# Moves `c` on to the next row.
.macro next_row
    local.get   3
    local.get   4
    i32.add
    local.set   3
.endm

tl_gemm_micro_6x8:
    .functype tl_gemm_micro_6x8 (i32, i32, i32, i32, i32, i32) -> ()
    .local v128, v128, v128, v128, v128, v128, v128, v128, v128, v128, v128, v128, v128, v128, v128
    .irp i, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17
    v128.const  0, 0, 0, 0
    local.set   i
    .endr
    block
    local.get   0
    i32.eqz
    br_if       0
    loop
    # Eight steps a turn: the loop's own cost (V8's interrupt check, the counters) shared by 96 FMAs.
    .irp p, 0, 1, 2, 3, 4, 5, 6, 7
    step p
    .endr
    address 1, 192
    local.set   1
    address 2, 256
    local.set   2
    local.get   0
    i32.const   8
    i32.sub
    local.tee   0
    br_if       0
    end_loop
    end_block
    local.get   5
    if
    .irp r, 0, 1, 2, 3, 4
    add_row %(6 + 2 * r), %(7 + 2 * r)
    next_row
    .endr
    add_row 16, 17
    else
    .irp r, 0, 1, 2, 3, 4
    store_row %(6 + 2 * r), %(7 + 2 * r)
    next_row
    .endr
    store_row 16, 17
    end_if
    end_function
