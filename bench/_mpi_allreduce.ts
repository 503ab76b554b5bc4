/**
 * Run under a launcher by `bench/mpi_bench.ts`: the median seconds of an in-place float allreduce per
 * message size in bytes (the arguments), through the project's MPI binding; rank 0 prints one JSON line
 * `{"BYTES": seconds, ...}`, as `bench/mpi_allreduce.c` does.
 *
 * @module
 */
import { Mpi } from "@tinyllama-ts/mpi";

const mpi = Mpi.init();
const result: Record<string, number> = {};
for (const arg of Deno.args) {
  const bytes = Number(arg);
  const buf = Float32Array.from({ length: bytes / 4 }, (_, i) => i % 7);
  const iters = bytes >= 64 << 20 ? 5 : 50;
  const times: number[] = [];
  mpi.allreduceSum(buf); // warm-up
  for (let k = 0; k < iters; k++) {
    mpi.barrier();
    const t0 = performance.now();
    mpi.allreduceSum(buf);
    times.push((performance.now() - t0) / 1000);
  }
  result[arg] = times.sort((a, b) => a - b)[Math.floor(iters / 2)];
}
if (mpi.rank === 0) console.log(JSON.stringify(result));
mpi.finalize();
