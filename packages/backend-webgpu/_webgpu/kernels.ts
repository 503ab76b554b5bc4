/**
 * The registry of compute kernels: for each, its WGSL file, entry point and number of storage
 * bindings. Bindings are numbered: 0 is the per-dispatch uniform block, 1..`storage` the tensors. Each
 * kernel's uniform struct starts with one u32 window offset per storage binding (`offsetSlots` of
 * them when the file shares one struct among entry points), then its u32 fields, then its f32 fields.
 *
 * @module
 */
import type { KernelModule } from "../_kernels.ts";

/** One compute entry point. */
export interface KernelSpec {
  readonly module: KernelModule;
  readonly entry: string;
  readonly storage: number;
  /** Words of window offsets at the head of the uniform struct, when more than `storage`. */
  readonly offsetSlots?: number;
}

function k(module: KernelModule, entry: string, storage: number, offsetSlots?: number): KernelSpec {
  return { module, entry, storage, offsetSlots };
}

/**
 * Every kernel the backend dispatches.
 *
 * @example
 * ```ts
 * import { KERNELS } from "./kernels.ts";
 * console.log(KERNELS.matmul); // { module: "matmul", entry: "matmul", storage: 3, offsetSlots: undefined }
 * ```
 */
export const KERNELS = {
  fill: k("memory", "fill", 1),
  copy: k("memory", "copy", 2),
  add: k("residual", "add", 3),
  swigluForward: k("swiglu", "swiglu_forward", 3),
  swigluBackward: k("swiglu", "swiglu_backward", 5),
  rmsnormForward: k("rmsnorm", "rmsnorm_forward", 4),
  rmsnormBackwardDx: k("rmsnorm", "rmsnorm_backward_dx", 5),
  rmsnormBackwardDweightPartial: k("rmsnorm", "rmsnorm_backward_dweight_partial", 4),
  rmsnormBackwardDweightSum: k("rmsnorm", "rmsnorm_backward_dweight_sum", 2),
  ropeForward: k("rope", "rope_forward", 3),
  ropeBackward: k("rope", "rope_backward", 3),
  embeddingForward: k("embedding", "embedding_forward", 3),
  embeddingBackward: k("embedding", "embedding_backward", 3),
  crossEntropy: k("cross_entropy", "cross_entropy", 3),
  adamw: k("adamw", "adamw", 4),
  sumSquaresPartial: k("reduce", "sum_squares_partial", 2),
  sumSquaresFinal: k("reduce", "sum_squares_final", 2),
  scaleBy: k("reduce", "scale_by", 2),
  clipFactor: k("reduce", "clip_factor", 2),
  matmul: k("matmul", "matmul", 3),
  attentionForward: k("attention", "attention_forward", 6, 8),
  attentionBackwardDsum: k("attention", "attention_backward_dsum", 3),
  attentionBackwardDq: k("attention", "attention_backward_dq", 7, 8),
  attentionBackwardDkdv: k("attention", "attention_backward_dkdv", 8, 8),
} as const satisfies Record<string, KernelSpec>;

/** Pipeline-overridable constants of a dispatch (`override` declarations in WGSL). */
export type KernelConstants = Record<string, number | boolean>;
