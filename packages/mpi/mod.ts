/**
 * MPI for tinyllama-ts: a binding of the MPI C API through Deno's FFI (MPICH's and Open MPI's ABIs), and
 * the launcher's view of a process read from its environment.
 *
 * @example
 * ```ts ignore
 * import { launchInfo, Mpi } from "@tinyllama-ts/mpi";
 * if (launchInfo().size > 1) {
 *   const mpi = Mpi.init();
 *   const g = new Float32Array(1024).fill(mpi.rank);
 *   mpi.allreduceSum(g);
 *   mpi.finalize();
 * }
 * ```
 * @module
 */
export { MAX_MPI_COUNT, Mpi, MPI_LIBRARY_VARIABLE, type MpiArray } from "./mpi.ts";
export { LAUNCHER_VARIABLES, type LaunchInfo, launchInfo, type MpiFamily } from "./launcher.ts";
