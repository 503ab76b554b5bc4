/* tslint:disable */
/* eslint-disable */
export const memory: WebAssembly.Memory;
export const accumulate: (a: number, b: number, c: number) => void;
export const adamw: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number) => void;
export const add: (a: number, b: number, c: number, d: number) => void;
export const alloc: (a: number) => number;
export const attention_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number, l: number, m: number, n: number, o: number, p: number) => void;
export const attention_forward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number, k: number, l: number) => void;
export const clip_factor: (a: number, b: number, c: number) => void;
export const cross_entropy: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => number;
export const embedding_backward: (a: number, b: number, c: number, d: number, e: number, f: number) => number;
export const embedding_forward: (a: number, b: number, c: number, d: number, e: number, f: number) => number;
export const free: (a: number, b: number) => void;
export const linear_memory: () => any;
export const matmul_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number, j: number) => void;
export const matmul_forward: (a: number, b: number, c: number, d: number, e: number, f: number) => void;
export const rmsnorm_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
export const rmsnorm_forward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number) => void;
export const rope_backward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
export const rope_forward: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => void;
export const scale_by: (a: number, b: number, c: number) => void;
export const sum_squares: (a: number, b: number, c: number) => void;
export const swiglu_backward: (a: number, b: number, c: number, d: number, e: number, f: number) => void;
export const swiglu_forward: (a: number, b: number, c: number, d: number) => void;
export const __wbindgen_externrefs: WebAssembly.Table;
export const __wbindgen_start: () => void;
