/**
 * A small binding of the MPI C API through Deno's FFI: the collectives data-parallel training needs,
 * on `Float32Array`/`Float64Array` host buffers, over `MPI_COMM_WORLD`.
 *
 * Two ABIs exist and both are spoken. MPICH's (`libmpi.so.12`, Debian's `libmpich.so.12`; Intel MPI and
 * MVAPICH share it) passes handles as 32-bit integers fixed in its `mpi.h` and `MPI_IN_PLACE` as
 * `(void *)-1`. Open MPI's (`libmpi.so.40`) passes handles as the addresses of exported objects
 * (`ompi_mpi_comm_world`, `ompi_mpi_float`, `ompi_mpi_op_sum`…), which FFI reads as statics, and
 * `MPI_IN_PLACE` as `(void *)1`. The library comes from `TINYLLAMA_MPI_LIB` when set (its ABI is then
 * probed: Open MPI's exports `ompi_mpi_comm_world`), else from the launcher's variables
 * ({@link launchInfo}). MPI counts are C `int`s: longer arrays go in pieces of at most
 * {@link MAX_MPI_COUNT} elements.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { launchInfo, type MpiFamily } from "./launcher.ts";

/** The variable that names the MPI library to load (a path or a soname). */
export const MPI_LIBRARY_VARIABLE = "TINYLLAMA_MPI_LIB";

/** Most elements one MPI call is given (counts are C `int`s; a power of two keeps pieces aligned). */
export const MAX_MPI_COUNT = 2 ** 30;

/** Host arrays the collectives take. */
export type MpiArray = Float32Array | Float64Array;

/** The Debian package and sonames of each family, for loading and for the error when none loads. */
const FAMILIES = {
  mpich: { libraries: ["libmpi.so.12", "libmpich.so.12"], package: "mpich", name: "MPICH" },
  openmpi: { libraries: ["libmpi.so.40"], package: "openmpi-bin", name: "Open MPI" },
} as const;

/** MPICH's `mpi.h` values (stable across MPICH 3 and 4 and its derivatives). */
const MPICH = {
  commWorld: 0x44000000,
  float: 0x4c00040a,
  double: 0x4c00080b,
  byte: 0x4c00010d,
  sum: 0x58000003,
  inPlace: -1n,
};

const MPI_THREAD_FUNNELED = 1;

type Handle = number | Deno.PointerValue;

function symbols(handle: "i32" | "pointer") {
  const h = handle;
  return {
    MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
    MPI_Initialized: { parameters: ["buffer"], result: "i32" },
    MPI_Finalized: { parameters: ["buffer"], result: "i32" },
    MPI_Finalize: { parameters: [], result: "i32" },
    MPI_Comm_rank: { parameters: [h, "buffer"], result: "i32" },
    MPI_Comm_size: { parameters: [h, "buffer"], result: "i32" },
    MPI_Allreduce: { parameters: ["pointer", "pointer", "i32", h, h, h], result: "i32" },
    MPI_Reduce_scatter_block: { parameters: ["pointer", "pointer", "i32", h, h, h], result: "i32" },
    MPI_Reduce_scatter: { parameters: ["pointer", "pointer", "buffer", h, h, h], result: "i32" },
    MPI_Allgather: { parameters: ["pointer", "i32", h, "pointer", "i32", h, h], result: "i32" },
    MPI_Allgatherv: {
      parameters: ["pointer", "i32", h, "pointer", "buffer", "buffer", h, h],
      result: "i32",
    },
    MPI_Bcast: { parameters: ["pointer", "i32", h, "i32", h], result: "i32" },
    MPI_Barrier: { parameters: [h], result: "i32" },
    MPI_Abort: { parameters: [h, "i32"], result: "i32" },
  } as const;
}

const OPEN_MPI_STATICS = {
  ompi_mpi_comm_world: { type: "pointer" },
  ompi_mpi_float: { type: "pointer" },
  ompi_mpi_double: { type: "pointer" },
  ompi_mpi_byte: { type: "pointer" },
  ompi_mpi_op_sum: { type: "pointer" },
} as const;

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => number;

/**
 * MPI over `MPI_COMM_WORLD`, initialised (`MPI_THREAD_FUNNELED`: only the main thread calls MPI; worker
 * threads keep computing). Every collective must be called by every rank in the same order.
 *
 * @example
 * ```ts ignore
 * import { Mpi } from "@tinyllama-ts/mpi";
 * const mpi = Mpi.init();
 * const x = new Float32Array([mpi.rank, 1]);
 * mpi.allreduceSum(x); // [0 + 1 + … + (size − 1), size] on every rank
 * mpi.finalize();
 * ```
 */
export class Mpi {
  /** This process's rank, `0 ≤ rank < size`. */
  readonly rank: number;
  /** Ranks in the job. */
  readonly size: number;
  /** The ABI spoken. */
  readonly family: MpiFamily;
  /** The library loaded. */
  readonly library: string;
  /** Elements per MPI call (tests lower it to exercise the pieces). */
  maxCount: number = MAX_MPI_COUNT;
  readonly #lib: Deno.DynamicLibrary<ReturnType<typeof symbols>>;
  readonly #fn: Record<string, AnyFn>;
  readonly #comm: Handle;
  readonly #float: Handle;
  readonly #double: Handle;
  readonly #byte: Handle;
  readonly #sum: Handle;
  readonly #inPlace: Deno.PointerValue;
  #finalized = false;

  private constructor(
    library: string,
    family: MpiFamily,
    lib: Deno.DynamicLibrary<ReturnType<typeof symbols>>,
  ) {
    this.library = library;
    this.family = family;
    this.#lib = lib;
    this.#fn = lib.symbols as unknown as Record<string, AnyFn>;
    if (family === "mpich") {
      this.#comm = MPICH.commWorld;
      this.#float = MPICH.float;
      this.#double = MPICH.double;
      this.#byte = MPICH.byte;
      this.#sum = MPICH.sum;
      this.#inPlace = Deno.UnsafePointer.create(BigInt.asUintN(64, MPICH.inPlace));
    } else {
      const s = (lib as unknown as Deno.DynamicLibrary<typeof OPEN_MPI_STATICS>).symbols;
      this.#comm = s.ompi_mpi_comm_world;
      this.#float = s.ompi_mpi_float;
      this.#double = s.ompi_mpi_double;
      this.#byte = s.ompi_mpi_byte;
      this.#sum = s.ompi_mpi_op_sum;
      this.#inPlace = Deno.UnsafePointer.create(1n);
    }
    const initialized = new Int32Array(1);
    this.#check("MPI_Initialized", this.#fn.MPI_Initialized(initialized));
    if (!initialized[0]) {
      const provided = new Int32Array(1);
      this.#check("MPI_Init_thread", this.#fn.MPI_Init_thread(null, null, MPI_THREAD_FUNNELED, provided));
    }
    const out = new Int32Array(1);
    this.#check("MPI_Comm_rank", this.#fn.MPI_Comm_rank(this.#comm, out));
    this.rank = out[0];
    this.#check("MPI_Comm_size", this.#fn.MPI_Comm_size(this.#comm, out));
    this.size = out[0];
  }

  /**
   * Loads the MPI library and initialises MPI. The library is `options.library`, else
   * `TINYLLAMA_MPI_LIB`, else the one of the launcher's family (MPICH's when no launcher says). A
   * library that does not load is a one-line {@link UserError} naming the Debian package to install.
   */
  static init(options: { library?: string } = {}): Mpi {
    const named = options.library ?? readVariable(MPI_LIBRARY_VARIABLE);
    if (named !== undefined && named !== "") {
      const family = probeFamily(named);
      return new Mpi(named, family, open(named, family));
    }
    const family = launchInfo().family ?? "mpich";
    const errors: string[] = [];
    for (const library of FAMILIES[family].libraries) {
      try {
        return new Mpi(library, family, open(library, family));
      } catch (e) {
        if (!(e instanceof LoadError)) throw e;
        errors.push(e.message);
      }
    }
    const f = FAMILIES[family];
    throw new UserError(
      `cannot load ${f.name} (${f.libraries.join(" or ")}): install the Debian package ${f.package}, ` +
        `or name the library in ${MPI_LIBRARY_VARIABLE}`,
    );
  }

  /** `buf = Σ over ranks of buf`, element by element, in place. */
  allreduceSum(buf: MpiArray): void {
    const type = this.#type(buf);
    for (let off = 0; off < buf.length; off += this.maxCount) {
      const n = Math.min(this.maxCount, buf.length - off);
      const p = Deno.UnsafePointer.of(buf.subarray(off, off + n));
      this.#check("MPI_Allreduce", this.#fn.MPI_Allreduce(this.#inPlace, p, n, type, this.#sum, this.#comm));
    }
  }

  /**
   * Sums `send` (`size × recv.length` elements, rank `r`'s block at `r × recv.length`) across ranks and
   * leaves block `rank` of the sum in `recv`.
   */
  reduceScatterSum(send: MpiArray, recv: MpiArray): void {
    const c = recv.length, type = this.#type(send);
    this.#sameType(send, recv);
    if (send.length !== c * this.size) {
      throw new RangeError(`reduce-scatter: send has ${send.length} elements, expected ${c * this.size}`);
    }
    if (c <= this.maxCount) {
      this.#check(
        "MPI_Reduce_scatter_block",
        this.#fn.MPI_Reduce_scatter_block(ptr(send), ptr(recv), c, type, this.#sum, this.#comm),
      );
      return;
    }
    // In pieces of the global array: each piece's counts are the overlaps with the ranks' blocks.
    for (const { off, n, counts, mine } of this.#pieces(c)) {
      this.#check(
        "MPI_Reduce_scatter",
        this.#fn.MPI_Reduce_scatter(
          ptr(send.subarray(off, off + n)),
          ptr(recv.subarray(mine, recv.length)),
          counts,
          type,
          this.#sum,
          this.#comm,
        ),
      );
    }
  }

  /** Concatenates every rank's `send` into `recv` (`size × send.length` elements), in rank order. */
  allgather(send: MpiArray, recv: MpiArray): void {
    const c = send.length, type = this.#type(send);
    this.#sameType(send, recv);
    if (recv.length !== c * this.size) {
      throw new RangeError(`allgather: recv has ${recv.length} elements, expected ${c * this.size}`);
    }
    if (c <= this.maxCount) {
      this.#check(
        "MPI_Allgather",
        this.#fn.MPI_Allgather(ptr(send), c, type, ptr(recv), c, type, this.#comm),
      );
      return;
    }
    for (const { off, n, counts, displs, mine } of this.#pieces(c)) {
      const own = counts[this.rank];
      this.#check(
        "MPI_Allgatherv",
        this.#fn.MPI_Allgatherv(
          ptr(send.subarray(mine, mine + own)),
          own,
          type,
          ptr(recv.subarray(off, off + n)),
          counts,
          displs,
          type,
          this.#comm,
        ),
      );
    }
  }

  /** Copies `root`'s `buf` into every rank's `buf`. */
  broadcast(buf: MpiArray | Uint8Array, root = 0): void {
    const type = buf instanceof Uint8Array ? this.#byte : this.#type(buf);
    for (let off = 0; off < buf.length; off += this.maxCount) {
      const n = Math.min(this.maxCount, buf.length - off);
      this.#check(
        "MPI_Bcast",
        this.#fn.MPI_Bcast(ptr(buf.subarray(off, off + n)), n, type, root, this.#comm),
      );
    }
  }

  /** Waits until every rank is here. */
  barrier(): void {
    this.#check("MPI_Barrier", this.#fn.MPI_Barrier(this.#comm));
  }

  /** Ends every rank of the job with exit code `code` (MPI_Abort); does not return. */
  abort(code: number): never {
    this.#fn.MPI_Abort(this.#comm, code);
    Deno.exit(code); // MPI_Abort may return on a singleton; make sure this rank ends too
  }

  /** Finalises MPI and closes the library (once; later calls do nothing). */
  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    this.#check("MPI_Finalize", this.#fn.MPI_Finalize());
    // The library stays loaded: MPI's atexit handlers may still run from it.
  }

  /** Pieces of a `size × c` rank-major array of at most `maxCount` elements, with per-rank overlaps. */
  *#pieces(c: number) {
    const total = c * this.size;
    for (let off = 0; off < total; off += this.maxCount) {
      const n = Math.min(this.maxCount, total - off);
      const counts = new Int32Array(this.size), displs = new Int32Array(this.size);
      for (let r = 0; r < this.size; r++) {
        const lo = Math.max(off, r * c), hi = Math.min(off + n, (r + 1) * c);
        counts[r] = Math.max(0, hi - lo);
        displs[r] = Math.max(0, Math.min(lo, off + n) - off);
      }
      // Where this piece starts within this rank's own block.
      const mine = Math.min(Math.max(0, off - this.rank * c), c);
      yield { off, n, counts, displs, mine };
    }
  }

  #type(a: MpiArray): Handle {
    if (a instanceof Float32Array) return this.#float;
    if (a instanceof Float64Array) return this.#double;
    throw new TypeError("MPI arrays are Float32Array or Float64Array");
  }

  #sameType(a: MpiArray, b: MpiArray): void {
    if (a.constructor !== b.constructor) throw new TypeError("send and receive arrays differ in type");
  }

  #check(what: string, rc: number): void {
    // The default error handler (MPI_ERRORS_ARE_FATAL) ends the job before a failing call returns, so a
    // non-zero code here means an error handler was changed; still never continue past it.
    if (rc !== 0) throw new Error(`${what} failed with MPI error code ${rc} on rank ${this.rank ?? "?"}`);
  }

  /** Closes the library handle (for tests that load several libraries in one process). */
  close(): void {
    this.#lib.close();
  }
}

/** A pointer to an array's first element (null for an empty array, which MPI accepts with count 0). */
function ptr(a: MpiArray | Uint8Array): Deno.PointerValue {
  return a.length === 0 ? null : Deno.UnsafePointer.of(a);
}

class LoadError extends Error {}

function open(library: string, family: MpiFamily): Deno.DynamicLibrary<ReturnType<typeof symbols>> {
  const syms = family === "mpich" ? symbols("i32") : { ...symbols("pointer"), ...OPEN_MPI_STATICS };
  try {
    return Deno.dlopen(library, syms) as unknown as Deno.DynamicLibrary<ReturnType<typeof symbols>>;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new LoadError(`${library}: ${(e as Error).message}`);
  }
}

/** A named library's ABI: Open MPI's when it exports `ompi_mpi_comm_world`, else MPICH's. */
function probeFamily(library: string): MpiFamily {
  let lib: Deno.DynamicLibrary<{ MPI_Init_thread: { parameters: []; result: "void" } }>;
  try {
    lib = Deno.dlopen(library, { MPI_Init_thread: { parameters: [], result: "void" } });
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new UserError(
      `${MPI_LIBRARY_VARIABLE}=${library}: cannot load it as an MPI library (install the Debian package ` +
        `mpich or openmpi-bin, or name another library)`,
    );
  }
  lib.close();
  try {
    Deno.dlopen(library, { ompi_mpi_comm_world: { type: "pointer" } }).close();
    return "openmpi";
  } catch {
    return "mpich";
  }
}

function readVariable(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}
