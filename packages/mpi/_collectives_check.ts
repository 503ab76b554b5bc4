/**
 * Run under a launcher by the tests: every collective on small arrays (and again in pieces of 7
 * elements), printed by rank 0 as one JSON line for the test to compare with the sums it expects.
 *
 * @module
 */
import { Mpi } from "./mpi.ts";

const mpi = Mpi.init();
const { rank, size } = mpi;
const results: Record<string, number[]> = {};
for (const maxCount of [2 ** 30, 7]) {
  mpi.maxCount = maxCount;
  const tag = maxCount === 7 ? "pieces" : "whole";
  const n = 23;
  const a = Float32Array.from({ length: n * size }, (_, i) => i * (rank + 1) + 0.25);
  mpi.allreduceSum(a);
  results[`allreduce_${tag}`] = [...a];
  const d = Float64Array.from({ length: 5 }, (_, i) => i + rank / 8);
  mpi.allreduceSum(d);
  results[`allreduce_f64_${tag}`] = [...d];
  const send = Float32Array.from({ length: n * size }, (_, i) => i + 100 * rank);
  const recv = new Float32Array(n);
  mpi.reduceScatterSum(send, recv);
  const all = new Float32Array(n * size);
  mpi.allgather(recv, all);
  results[`reduce_scatter_allgather_${tag}`] = [...all];
  const b = Float32Array.from({ length: 19 }, (_, i) => rank === 1 % size ? i * 3 : -1);
  mpi.broadcast(b, 1 % size);
  results[`broadcast_${tag}`] = [...b];
  const bytes = new TextEncoder().encode(rank === 0 ? "rank zero says hello" : "xxxxxxxxxxxxxxxxxxxx");
  mpi.broadcast(bytes, 0);
  results[`broadcast_bytes_${tag}`] = [...bytes];
  mpi.barrier();
}
// Every rank reports; the test checks they agree.
console.log(JSON.stringify({ rank, size, family: mpi.family, library: mpi.library, results }));
mpi.finalize();
