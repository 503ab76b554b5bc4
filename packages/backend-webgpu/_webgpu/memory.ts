/**
 * Tensors of the WebGPU backend and the windows they are bound through.
 *
 * A tensor is a range of one device buffer. `alloc` gives each tensor its own buffer; `allocGroup`
 * packs the members into as few buffers as `maxBufferSize` allows, each member aligned to 256 bytes,
 * so a group is normally one buffer (parameters, gradients and moments are then one allocation each,
 * and adjacent members can be processed by one dispatch). Freeing any member frees its whole group.
 *
 * Binding limits: a storage binding may hold at most `maxStorageBufferBindingSize` bytes (128 MiB on
 * lavapipe), less than a TinyLlama embedding table (262 MB). A tensor that fits is always bound whole,
 * which keeps bind groups stable from step to step; a larger one is bound through windows, byte ranges
 * that start at an aligned offset below the wanted element and carry the element `shift` into the
 * kernel. The ops cut their work (rows, batches, matmul blocks) so that each window fits.
 *
 * i32 tensors (token ids and targets) are only ever written from the host, so the backend keeps a host
 * copy of them and range-checks ids on the host, as the reference backend does.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import type { DType, Tensor } from "@tinyllama-ts/backend";
import type { CommandQueue, GpuBuffer, Window } from "./queue.ts";
import { packGroup } from "./split.ts";

/** The buffers of one `alloc` or `allocGroup` call, released together. */
export class Allocation {
  freed = false;
  constructor(readonly buffers: readonly GpuBuffer[]) {}
}

/** A tensor of the WebGPU backend: `size` elements at element `offset` of `buffer`. */
export class GpuTensor implements Tensor {
  /** The host copy of an i32 tensor (null for f32). */
  readonly host: Int32Array | null;
  constructor(
    readonly size: number,
    readonly dtype: DType,
    readonly buffer: GpuBuffer,
    readonly offset: number,
    readonly allocation: Allocation,
    /** A view's share of its parent's host copy (see `view`). */
    host?: Int32Array | null,
  ) {
    this.host = host !== undefined ? host : dtype === "i32" ? new Int32Array(size) : null;
  }
}

/** Limits that decide packing and windows. */
export interface MemoryLimits {
  maxBufferBytes: number;
  maxBindingBytes: number;
  /** `minStorageBufferOffsetAlignment` of the device. */
  alignBytes: number;
}

/**
 * Allocation and windowing.
 *
 * @example
 * ```ts
 * import { GpuMemory } from "./memory.ts";
 * import { CommandQueue } from "./queue.ts";
 * import { openDevice } from "./device.ts";
 * const { device } = await openDevice();
 * const mem = new GpuMemory(new CommandQueue(device), {
 *   maxBufferBytes: 1 << 30,
 *   maxBindingBytes: 1 << 27,
 *   alignBytes: 256,
 * });
 * const [a, b] = mem.alloc([1000, 24], "f32", "example");
 * ```
 */
export class GpuMemory {
  readonly limits: MemoryLimits;
  /** Elements a window may cover wherever it starts (the binding limit less the alignment slack). */
  readonly capElems: number;
  #queue: CommandQueue;
  #live = new Set<Allocation>();
  #liveBytes = 0;

  constructor(queue: CommandQueue, limits: MemoryLimits) {
    this.#queue = queue;
    this.limits = limits;
    this.capElems = Math.floor(limits.maxBindingBytes / 4) - limits.alignBytes / 4;
    if (this.capElems < 64) throw new Error(`binding limit ${limits.maxBindingBytes} B is too small`);
  }

  /** Tensors of `sizes`, zero-filled, packed into as few buffers as the limits allow. */
  alloc(sizes: readonly number[], dtype: DType, label: string): GpuTensor[] {
    for (const size of sizes) {
      if (!Number.isInteger(size) || size < 0) {
        throw new UserError(`alloc: size must be a non-negative integer, got ${size}`);
      }
      if (size * 4 > this.limits.maxBufferBytes) {
        throw new UserError(
          `alloc: a tensor of ${size} elements (${size * 4} bytes) exceeds the adapter's maxBufferSize ` +
            `(${this.limits.maxBufferBytes} bytes)`,
        );
      }
    }
    const { placements, bufferBytes } = packGroup(sizes, this.limits.maxBufferBytes);
    const buffers = bufferBytes.map((bytes, i) => this.#queue.createBuffer(bytes, `${label} ${i}`));
    const allocation = new Allocation(buffers);
    this.#live.add(allocation);
    this.#liveBytes += bufferBytes.reduce((a, b) => a + b, 0);
    return sizes.map((size, i) =>
      new GpuTensor(size, dtype, buffers[placements[i].buffer], placements[i].offset, allocation)
    );
  }

  /** Releases `t`'s whole allocation (a no-op when already released). */
  free(t: GpuTensor): void {
    const a = t.allocation;
    if (a.freed) return;
    a.freed = true;
    this.#live.delete(a);
    for (const b of a.buffers) this.#queue.destroyBuffer(b);
    this.#liveBytes -= a.buffers.reduce((s, b) => s + b.bytes, 0);
  }

  /** Bytes of the tensor buffers allocated and not yet released. */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** True when `t` was allocated here and is not yet released. */
  owns(t: GpuTensor): boolean {
    return this.#live.has(t.allocation);
  }

  /** Releases everything. */
  freeAll(): void {
    for (const a of [...this.#live]) {
      a.freed = true;
      for (const b of a.buffers) this.#queue.destroyBuffer(b);
    }
    this.#live.clear();
    this.#liveBytes = 0;
  }

  /** True when `t` can be bound whole. */
  fitsWhole(t: GpuTensor): boolean {
    return t.size * 4 <= this.limits.maxBindingBytes - this.limits.alignBytes;
  }

  /** Elements per window for a tensor: all of it when it fits whole, else {@link capElems}. */
  capFor(t: GpuTensor): number {
    return this.fitsWhole(t) ? Infinity : this.capElems;
  }

  /**
   * A binding of elements `[start, start + count)` of `t`: the whole tensor when it fits, else the
   * smallest aligned window around the range.
   */
  window(t: GpuTensor, start: number, count: number): Window {
    if (t.allocation.freed) throw new UserError("tensor used after free");
    if (start < 0 || count < 0 || start + count > t.size) {
      throw new Error(`window [${start}, ${start + count}) outside a tensor of ${t.size}`);
    }
    if (this.fitsWhole(t)) {
      const align = this.limits.alignBytes;
      const byteOffset = Math.floor((t.offset * 4) / align) * align;
      const lead = t.offset - byteOffset / 4;
      return {
        buffer: t.buffer,
        byteOffset,
        byteSize: Math.max(4, (lead + t.size) * 4),
        shift: lead + start,
      };
    }
    return this.#around(t, start, count);
  }

  /**
   * A window over `count` elements of a run that starts at element `start` of `t` and may continue
   * into the tensors placed right after it in the same buffer (see `adjacentRuns`).
   */
  runWindow(t: GpuTensor, start: number, count: number): Window {
    return start + count <= t.size ? this.window(t, start, count) : this.#around(t, start, count);
  }

  /** The smallest aligned window around elements `[start, start + count)` of `t`'s buffer range. */
  #around(t: GpuTensor, start: number, count: number): Window {
    const align = this.limits.alignBytes;
    const abs = t.offset + start;
    const byteOffset = Math.floor((abs * 4) / align) * align;
    const shift = abs - byteOffset / 4;
    const byteSize = Math.max(4, (shift + count) * 4);
    if (byteSize > this.limits.maxBindingBytes) {
      throw new Error(`window of ${byteSize} B exceeds the binding limit`);
    }
    return { buffer: t.buffer, byteOffset, byteSize, shift };
  }
}
