/**
 * The command queue of the WebGPU backend: pipelines (created once per kernel and constant set),
 * bind-group layouts, a cache of bind groups, and a ring of 256-byte uniform slots, one per dispatch,
 * bound with a dynamic offset. Dispatches are recorded into one compute pass and submitted together
 * when the host needs a result (`read`), writes data (`write`), or the ring is full. Validation and
 * out-of-memory errors are collected with error scopes and thrown at the next `read`.
 *
 * @module
 */
import { WGSL_SOURCES } from "../_kernels.ts";
import type { KernelConstants, KernelSpec } from "./kernels.ts";

/** Bytes of one dispatch's uniform block (≥ every `minUniformBufferOffsetAlignment`). */
const SLOT_BYTES = 256;
/** Uniform slots per submission; more dispatches than this submit early. */
const RING_SLOTS = 4096;
/** Bind groups kept; the cache is cleared when it grows past this (shapes churning). */
const MAX_CACHED_BIND_GROUPS = 8192;

/** A device buffer with an identity for caching. */
export class GpuBuffer {
  static #next = 1;
  readonly id: number = GpuBuffer.#next++;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number) {}
}

/** A storage binding: a byte range of a buffer. `shift` is the element offset of the data inside it. */
export interface Window {
  readonly buffer: GpuBuffer;
  readonly byteOffset: number;
  readonly byteSize: number;
  readonly shift: number;
}

/**
 * Records dispatches and submits them in batches.
 *
 * @example
 * ```ts
 * import { openDevice } from "./device.ts";
 * import { CommandQueue } from "./queue.ts";
 * const { device } = await openDevice();
 * const queue = new CommandQueue(device);
 * await queue.compileAll();
 * ```
 */
export class CommandQueue {
  readonly device: GPUDevice;
  #modules = new Map<string, GPUShaderModule>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #layouts = new Map<number, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  #bindGroups = new Map<string, GPUBindGroup>();
  #bindGroupKeysByBuffer = new Map<number, Set<string>>();
  #ring: GPUBuffer;
  #ringData = new ArrayBuffer(SLOT_BYTES * RING_SLOTS);
  #ringU32 = new Uint32Array(this.#ringData);
  #ringF32 = new Float32Array(this.#ringData);
  #slots = 0;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #toDestroy: GPUBuffer[] = [];
  #errorScopes: Promise<GPUError | null>[] = [];
  #lost: string | null = null;
  /** Dispatches recorded since creation (for tests and the benchmark). */
  dispatches = 0;
  /** Submissions since creation. */
  submits = 0;
  /** Reads back to the host since creation (each waits for all recorded work: a pipeline stall). */
  blockingReads = 0;

  constructor(device: GPUDevice) {
    this.device = device;
    this.#ring = device.createBuffer({
      label: "uniform ring",
      size: SLOT_BYTES * RING_SLOTS,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.lost.then((info) => {
      this.#lost = info.message || info.reason || "device lost";
    });
  }

  /** Compiles every WGSL file and throws on any compilation error (a bug, not a user error). */
  async compileAll(): Promise<void> {
    for (const name of Object.keys(WGSL_SOURCES) as (keyof typeof WGSL_SOURCES)[]) {
      const module = this.#module(name);
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === "error");
      if (errors.length > 0) {
        throw new Error(
          `kernels/${name}.wgsl: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join("; ")}`,
        );
      }
    }
  }

  /** Pipelines created so far (each kernel and constant set once). */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  /**
   * Records one dispatch: binds `windows` to storage bindings 1.., writes the uniform block (the
   * windows' element shifts padded to `offsetSlots`, then `u32s`, then `f32s`) and dispatches `grid`.
   */
  dispatch(
    spec: KernelSpec,
    constants: KernelConstants,
    windows: readonly Window[],
    u32s: readonly number[],
    f32s: readonly number[],
    grid: readonly [number, number, number],
  ): void {
    if (windows.length !== spec.storage) {
      throw new Error(`${spec.entry}: ${windows.length} bindings for ${spec.storage}`);
    }
    if (this.#slots === RING_SLOTS) this.flush();
    if (this.#lost) throw new Error(`WebGPU device lost: ${this.#lost}`);
    const pass = this.#beginPass();
    const slot = this.#slots++;
    let w = slot * (SLOT_BYTES / 4);
    const offsetSlots = spec.offsetSlots ?? spec.storage;
    for (let i = 0; i < offsetSlots; i++) this.#ringU32[w++] = i < windows.length ? windows[i].shift : 0;
    for (const v of u32s) this.#ringU32[w++] = v;
    for (const v of f32s) this.#ringF32[w++] = v;
    if (w > (slot + 1) * (SLOT_BYTES / 4)) {
      throw new Error(`${spec.entry}: uniform block exceeds ${SLOT_BYTES} bytes`);
    }
    pass.setPipeline(this.#pipeline(spec, constants));
    pass.setBindGroup(0, this.#bindGroup(windows), [slot * SLOT_BYTES]);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.dispatches++;
  }

  /** Submits everything recorded. */
  flush(): void {
    if (!this.#encoder || !this.#pass) return;
    this.#pass.end();
    this.device.queue.writeBuffer(this.#ring, 0, this.#ringData, 0, this.#slots * SLOT_BYTES);
    this.device.queue.submit([this.#encoder.finish()]);
    this.#errorScopes.push(this.device.popErrorScope());
    this.#encoder = null;
    this.#pass = null;
    this.#slots = 0;
    this.submits++;
    for (const b of this.#toDestroy) b.destroy();
    this.#toDestroy = [];
  }

  /** Copies `bytes` from `buffer` at `byteOffset` to the host, after all recorded work. */
  async readBytes(buffer: GpuBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    this.flush();
    this.blockingReads++;
    this.device.pushErrorScope("validation");
    const staging = this.device.createBuffer({
      label: "read staging",
      size: Math.max(4, bytes),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer.buffer, byteOffset, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    this.#errorScopes.push(this.device.popErrorScope());
    try {
      await this.checkErrors();
      await staging.mapAsync(GPUMapMode.READ);
      return staging.getMappedRange(0, bytes).slice(0);
    } finally {
      staging.destroy();
    }
  }

  /** Creates a zeroed storage buffer; out-of-memory surfaces at the next check. */
  createBuffer(bytes: number, label: string): GpuBuffer {
    this.device.pushErrorScope("out-of-memory");
    const size = Math.max(16, Math.ceil(bytes / 4) * 4);
    const buffer = this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.#errorScopes.push(this.device.popErrorScope());
    return new GpuBuffer(buffer, size);
  }

  /** Writes host data at `byteOffset`, ordered after all recorded work. */
  writeBytes(buffer: GpuBuffer, byteOffset: number, data: Float32Array | Int32Array): void {
    this.flush();
    // A view of shared memory (a WASM heap, say) is copied: writeBuffer takes plain ArrayBuffers.
    const plain = data.buffer instanceof ArrayBuffer ? data : data.slice();
    this.device.queue.writeBuffer(buffer.buffer, byteOffset, plain as Float32Array<ArrayBuffer>);
  }

  /** Releases a buffer once recorded work that may use it is submitted; forgets its bind groups. */
  destroyBuffer(buffer: GpuBuffer): void {
    for (const key of this.#bindGroupKeysByBuffer.get(buffer.id) ?? []) this.#bindGroups.delete(key);
    this.#bindGroupKeysByBuffer.delete(buffer.id);
    if (this.#encoder) this.#toDestroy.push(buffer.buffer);
    else buffer.buffer.destroy();
  }

  /** Throws the first validation or out-of-memory error reported since the last check. */
  async checkErrors(): Promise<void> {
    const scopes = this.#errorScopes;
    this.#errorScopes = [];
    const errors = (await Promise.all(scopes)).filter((e) => e !== null);
    if (this.#lost) throw new Error(`WebGPU device lost: ${this.#lost}`);
    if (errors.length > 0) throw new Error(`WebGPU: ${errors[0]!.message}`);
  }

  /** Waits for all submitted work. */
  async finish(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  /** Submits what is recorded and destroys the ring (the device is the caller's). */
  destroy(): void {
    this.flush();
    this.#ring.destroy();
    this.#bindGroups.clear();
    this.#bindGroupKeysByBuffer.clear();
  }

  #beginPass(): GPUComputePassEncoder {
    if (!this.#pass) {
      this.device.pushErrorScope("validation");
      this.#encoder = this.device.createCommandEncoder();
      this.#pass = this.#encoder.beginComputePass();
    }
    return this.#pass;
  }

  #module(name: keyof typeof WGSL_SOURCES): GPUShaderModule {
    let m = this.#modules.get(name);
    if (!m) {
      m = this.device.createShaderModule({ label: `kernels/${name}.wgsl`, code: WGSL_SOURCES[name] });
      this.#modules.set(name, m);
    }
    return m;
  }

  #layout(storage: number): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.#layouts.get(storage);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [{
        binding: 0,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true },
      }];
      for (let i = 1; i <= storage; i++) {
        entries.push({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } });
      }
      const group = this.device.createBindGroupLayout({ label: `${storage} tensors`, entries });
      l = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.#layouts.set(storage, l);
    }
    return l;
  }

  #pipeline(spec: KernelSpec, constants: KernelConstants): GPUComputePipeline {
    const key = `${spec.module}/${spec.entry}/${JSON.stringify(constants)}`;
    let p = this.#pipelines.get(key);
    if (!p) {
      const values: Record<string, number> = {};
      for (const [name, v] of Object.entries(constants)) {
        values[name] = typeof v === "boolean" ? Number(v) : v;
      }
      p = this.device.createComputePipeline({
        label: key,
        layout: this.#layout(spec.storage).pipeline,
        compute: { module: this.#module(spec.module), entryPoint: spec.entry, constants: values },
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  #bindGroup(windows: readonly Window[]): GPUBindGroup {
    let key = `${windows.length}`;
    for (const w of windows) key += `|${w.buffer.id}:${w.byteOffset}:${w.byteSize}`;
    let g = this.#bindGroups.get(key);
    if (!g) {
      if (this.#bindGroups.size >= MAX_CACHED_BIND_GROUPS) {
        this.#bindGroups.clear();
        this.#bindGroupKeysByBuffer.clear();
      }
      const entries: GPUBindGroupEntry[] = [{
        binding: 0,
        resource: { buffer: this.#ring, size: SLOT_BYTES },
      }];
      windows.forEach((w, i) => {
        entries.push({
          binding: i + 1,
          resource: { buffer: w.buffer.buffer, offset: w.byteOffset, size: w.byteSize },
        });
      });
      g = this.device.createBindGroup({ layout: this.#layout(windows.length).group, entries });
      this.#bindGroups.set(key, g);
      for (const w of windows) {
        let keys = this.#bindGroupKeysByBuffer.get(w.buffer.id);
        if (!keys) this.#bindGroupKeysByBuffer.set(w.buffer.id, keys = new Set());
        keys.add(key);
      }
    }
    return g;
  }
}
