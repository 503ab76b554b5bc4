/**
 * `deno task pretrain:mpi`: `deno task pretrain` as one rank of a data-parallel job, started by an MPI
 * launcher with exactly `pretrain`'s flags, plus `--shard-optimizer` (ZeRO stage 1).
 *
 * ```sh
 * mpiexec -n 4 deno task pretrain:mpi --data DIR --global-batch-size 64 --out runs/a      # MPICH
 * mpirun -np 4 --bind-to none deno task pretrain:mpi --data DIR --shard-optimizer ...     # Open MPI
 * srun --ntasks-per-node=4 deno task pretrain:mpi --data DIR ...                          # Slurm
 * ```
 *
 * Threads per rank default to the node's cores divided by the ranks on that node (`TINYLLAMA_THREADS`
 * overrides). A failure before training starts is agreed among the ranks and printed once by rank 0,
 * naming the rank that failed; after that a failing rank prints one line naming itself and ends the job
 * (`MPI_Abort`).
 *
 * @example
 * ```ts ignore
 * import { pretrainMpiMain } from "@tinyllama-ts/trainer";
 * Deno.exit(await pretrainMpiMain(Deno.args));
 * ```
 * @module
 */
import { isParseArgsError, isUserError, oneLine, UserError } from "@tinyllama-ts/cli";
import { launchInfo, Mpi } from "@tinyllama-ts/mpi";
import { DataParallel, StartFailure } from "./distributed.ts";
import { parsePretrainFlags } from "./flags.ts";
import { pretrainMain } from "./pretrain_cli.ts";

/**
 * Runs one rank and returns its exit code; MPI is finalised (or the job aborted) before it returns.
 */
export async function pretrainMpiMain(args: readonly string[]): Promise<number> {
  const info = launchInfo();
  const shardOptimizer = shardOptimizerFlag(args);
  defaultThreads(info.localSize ?? 1);
  let mpi: Mpi;
  try {
    mpi = Mpi.init();
  } catch (e) {
    // Every rank fails alike here (no MPI yet to agree through): rank 0 speaks for them.
    if (info.rank === 0) console.error(`error: ${isUserError(e) ? oneLine(e) : (e as Error).stack}`);
    return 2;
  }
  const dp = new DataParallel(mpi, { shardOptimizer });
  let code: number;
  try {
    code = await pretrainMain(args, { parallel: dp });
  } catch (e) {
    let failure: unknown = e;
    if (!(e instanceof StartFailure) && !dp.started) {
      if (!isUserError(e) && !isParseArgsError(e)) console.error(e); // a bug: its stack, from this rank
      try {
        dp.failAtStart(isParseArgsError(e) ? new UserError(oneLine(e)) : e);
      } catch (agreed) {
        failure = agreed;
      }
    }
    if (failure instanceof StartFailure) {
      if (dp.writer) console.error(`error: ${oneLine(failure)}`);
      mpi.finalize();
      return 2;
    }
    // Training had started: the other ranks wait in a collective for this one, so end the job.
    const what = isUserError(e) ? oneLine(e) : ((e as Error).stack ?? String(e));
    console.error(`error: rank ${mpi.rank}: ${what}`);
    mpi.abort(2);
  }
  mpi.finalize();
  return code;
}

/**
 * Whether `args` (a stage, then `pretrain`'s flags) ask for `--shard-optimizer`, read by the one flag
 * parser. Flags it refuses count as no: `pretrainMain` parses them again, and the ranks agree on its error.
 */
function shardOptimizerFlag(args: readonly string[]): boolean {
  const flags = args.length > 0 && !args[0].startsWith("-") ? args.slice(1) : args;
  try {
    return parsePretrainFlags(flags).shardOptimizer ?? false;
  } catch {
    return false;
  }
}

/** `TINYLLAMA_THREADS`, unless set: the machine's cores shared among the ranks on this node. */
function defaultThreads(ranksOnNode: number): void {
  if (Deno.env.get("TINYLLAMA_THREADS")) return;
  const threads = Math.max(1, Math.floor(navigator.hardwareConcurrency / Math.max(1, ranksOnNode)));
  Deno.env.set("TINYLLAMA_THREADS", String(threads));
}

if (import.meta.main) Deno.exit(await pretrainMpiMain(Deno.args));
