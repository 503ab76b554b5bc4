/**
 * What the launcher (`mpiexec` of MPICH, `mpirun` of Open MPI, Slurm's `srun`) tells a process through
 * its environment, read before any MPI library is loaded: whether this process is one rank of several,
 * which MPI family started it, and how many ranks share its node.
 *
 * @module
 */

/** The two MPI ABIs: MPICH's (`libmpi.so.12`: MPICH, Intel MPI, MVAPICH) and Open MPI's (`libmpi.so.40`). */
export type MpiFamily = "mpich" | "openmpi";

/** The launcher's view of this process, from its environment. */
export interface LaunchInfo {
  /** Ranks in the job, when the launcher says (1 without a launcher). */
  size: number;
  /** This process's rank (0 without a launcher). */
  rank: number;
  /** Ranks on this node, when the launcher says. */
  localSize?: number;
  /** The MPI family the launcher belongs to, when its variables say. */
  family?: MpiFamily;
}

/** Every variable {@link launchInfo} reads (a task may allow exactly these). */
export const LAUNCHER_VARIABLES = [
  "OMPI_COMM_WORLD_SIZE",
  "OMPI_COMM_WORLD_RANK",
  "OMPI_COMM_WORLD_LOCAL_SIZE",
  "PMIX_RANK",
  "PMI_SIZE",
  "PMI_RANK",
  "MPI_LOCALNRANKS",
  "SLURM_STEP_NUM_TASKS",
  "SLURM_PROCID",
  "SLURM_STEP_TASKS_PER_NODE",
] as const;

/**
 * Reads the launcher's variables (each one readable without a prompt; a variable this process may not
 * read counts as unset). Open MPI sets `OMPI_COMM_WORLD_*`; MPICH's Hydra and Slurm's PMI-1/PMI-2 set
 * `PMI_SIZE`/`PMI_RANK`; a PMIx launch (Open MPI 5, `srun --mpi=pmix`) sets `PMIX_RANK`, with the size
 * from Slurm's step variables.
 *
 * @example
 * ```ts
 * import { launchInfo } from "@tinyllama-ts/mpi";
 * const { size, rank } = launchInfo(); // 1 and 0 outside a launcher
 * ```
 */
export function launchInfo(): LaunchInfo {
  const env = (name: string): number | undefined => {
    try {
      if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return undefined;
      const v = Deno.env.get(name);
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    } catch {
      return undefined;
    }
  };
  const ompiSize = env("OMPI_COMM_WORLD_SIZE");
  if (ompiSize !== undefined) {
    return {
      size: ompiSize,
      rank: env("OMPI_COMM_WORLD_RANK") ?? 0,
      localSize: env("OMPI_COMM_WORLD_LOCAL_SIZE"),
      family: "openmpi",
    };
  }
  const pmiSize = env("PMI_SIZE");
  if (pmiSize !== undefined) {
    return {
      size: pmiSize,
      rank: env("PMI_RANK") ?? 0,
      localSize: env("MPI_LOCALNRANKS") ?? slurmLocal(),
      family: "mpich",
    };
  }
  const pmixRank = env("PMIX_RANK");
  if (pmixRank !== undefined) {
    return {
      size: env("SLURM_STEP_NUM_TASKS") ?? 1,
      rank: pmixRank,
      localSize: slurmLocal(),
      family: "openmpi",
    };
  }
  return { size: 1, rank: 0 };
}

/** `SLURM_STEP_TASKS_PER_NODE` is like `4(x2),3`: the first node's count is enough when they agree. */
function slurmLocal(): number | undefined {
  try {
    if (
      Deno.permissions.querySync({ name: "env", variable: "SLURM_STEP_TASKS_PER_NODE" }).state !== "granted"
    ) return undefined;
    const m = /^(\d+)(\(x\d+\))?$/.exec(Deno.env.get("SLURM_STEP_TASKS_PER_NODE") ?? "");
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
