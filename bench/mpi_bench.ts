/**
 * `deno task bench --only mpi`: data parallelism's costs, each beside its peer in the same run.
 *
 * - Allreduce GB/s (message bytes / median time of an in-place float sum) at 4 MiB and 256 MiB between
 *   two local ranks: the project's FFI binding (`bench/_mpi_allreduce.ts`) beside the same MPI called
 *   from C (`bench/mpi_allreduce.c`, compiled now with the family's `mpicc`), under each installed
 *   launcher.
 * - Training tokens/s of `tiny-6l-4k` (micro-batch 4 × 256, global batch 8): 2 ranks × 1 thread
 *   (`pretrain:mpi` under MPICH's launcher, else Open MPI's) against 1 process × 1 thread and 1 process ×
 *   2 threads (`pretrain`), each the median over steps 2–5 of a 5-step run.
 *
 * Every measure runs `--rounds` times (default 3), the peers alternating within a round; ratios are
 * given per round on stderr; stdout is the JSON result.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runMain, UserError } from "@tinyllama-ts/cli";
import { ShardWriter } from "@tinyllama-ts/data";
import { installedLaunchers, launch, type Launcher } from "@tinyllama-ts/mpi/testing";
import { readMetrics, type StepRecord } from "@tinyllama-ts/trainer";

const here = new URL(".", import.meta.url).pathname;
const trainer = new URL("../packages/trainer/", import.meta.url).pathname;
const SIZES = [4 << 20, 256 << 20];
const MPICC = { mpich: "mpicc.mpich", openmpi: "mpicc.openmpi" } as const;

type Json = Record<string, unknown>;

const f0 = (x: number) => x.toFixed(0), f1 = (x: number) => x.toFixed(1), f2 = (x: number) => x.toFixed(2);

await runMain(async () => {
  const { values } = parseArgs({ args: Deno.args, options: { rounds: { type: "string", default: "3" } } });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new UserError(`--rounds must be ≥ 1, got ${values.rounds}`);
  }
  const launchers = await installedLaunchers();
  if (launchers.length === 0) {
    console.error("MPI bench skipped: no launcher (apt-get install mpich openmpi-bin)");
    console.log(JSON.stringify({ skipped: "no MPI launcher" }));
    return;
  }
  const tmp = await Deno.makeTempDir({ prefix: "mpi-bench-" });
  try {
    const result: Json = { allreduce: {}, train: null };
    for (const l of launchers) {
      (result.allreduce as Json)[l.family] = await allreduce(l, tmp, rounds);
    }
    const trainLauncher = launchers.find((l) => l.family === "mpich") ?? launchers[0];
    result.train = await training(trainLauncher, tmp, rounds);
    console.log(JSON.stringify(result));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

async function allreduce(l: Launcher, tmp: string, rounds: number): Promise<Json> {
  const exe = `${tmp}/allreduce_${l.family}`;
  const cc = await new Deno.Command(MPICC[l.family], { args: ["-O2", "-o", exe, `${here}mpi_allreduce.c`] })
    .output();
  if (!cc.success) throw new UserError(`${MPICC[l.family]} failed: ${new TextDecoder().decode(cc.stderr)}`);
  const sizes = SIZES.map(String);
  const ours: Record<string, number>[] = [], c: Record<string, number>[] = [];
  for (let r = 0; r < rounds; r++) {
    const deno = [
      Deno.execPath(),
      "run",
      "--quiet",
      "--allow-ffi",
      "--allow-env",
      `${here}_mpi_allreduce.ts`,
    ];
    ours.push(jsonLine(await launch(l, 2, [...deno, ...sizes]), "allreduce (ours)"));
    c.push(jsonLine(await launch(l, 2, [exe, ...sizes]), "allreduce (C)"));
  }
  const out: Json = {};
  for (const s of sizes) {
    const gbs = (runs: Record<string, number>[]) => runs.map((t) => Number(s) / t[s] / 1e9);
    const [o, p] = [gbs(ours), gbs(c)];
    out[`${Number(s) >> 20}MiB`] = { ours_gb_s: o, c_gb_s: p, ratios: o.map((x, i) => x / p[i]) };
    console.error(
      `allreduce ${Number(s) >> 20} MiB, 2 ranks (${l.family}): ours ${o.map(f1).join(" / ")} GB/s, C ` +
        `${p.map(f1).join(" / ")} GB/s, ratios ${o.map((x, i) => (x / p[i]).toFixed(2)).join(" / ")}`,
    );
  }
  return out;
}

async function training(l: Launcher, tmp: string, rounds: number): Promise<Json> {
  const data = `${tmp}/data`;
  await Deno.mkdir(data);
  const w = new ShardWriter({
    dir: data,
    prefix: "train",
    chunkSize: 257 * 64,
    dtype: "uint16",
    padToken: 1,
  });
  let s = 1;
  for (let d = 0; d < 400; d++) {
    await w.add(Array.from({ length: 1000 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 4096));
  }
  await w.finish();
  const flags = [
    ...["train", "--config", "tiny-6l-4k", "--data", data, "--micro-batch-size", "4"],
    ...["--global-batch-size", "8", "--max-steps", "5", "--warmup-steps", "1", "--save-interval", "0"],
  ];
  const run = async (how: "1x1" | "1x2" | "2x1", round: number): Promise<number> => {
    const out = `${tmp}/run-${how}-${round}`;
    const perm = ["run", "--quiet", "--allow-read", "--allow-write", "--allow-env"];
    if (how === "2x1") {
      jsonLine(
        await launch(l, 2, [
          Deno.execPath(),
          ...perm,
          "--allow-ffi",
          `${trainer}pretrain_mpi_cli.ts`,
          ...flags,
          "--out",
          out,
        ]),
        "2 ranks",
      );
    } else {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [...perm, `${trainer}pretrain_cli.ts`, ...flags, "--out", out],
        env: { TINYLLAMA_THREADS: how === "1x1" ? "1" : "2" },
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!r.success) throw new UserError(`training ${how} failed: ${new TextDecoder().decode(r.stderr)}`);
    }
    const steps = (await readMetrics(`${out}/metrics.jsonl`)).filter((r): r is StepRecord => "loss" in r);
    return median(steps.slice(1).map((s) => s.tokens_per_sec));
  };
  const res = { "1x1": [] as number[], "1x2": [] as number[], "2x1": [] as number[] };
  for (let r = 0; r < rounds; r++) {
    for (const how of ["1x1", "2x1", "1x2"] as const) res[how].push(await run(how, r));
  }
  const vs1 = res["2x1"].map((x, i) => x / res["1x1"][i]), vs2 = res["2x1"].map((x, i) => x / res["1x2"][i]);
  console.error(
    `training tiny-6l-4k tok/s: 2 ranks × 1 thread (${l.family}) ${res["2x1"].map(f0).join(" / ")}, ` +
      `1 process × 1 thread ${res["1x1"].map(f0).join(" / ")}, 1 process × 2 threads ` +
      `${res["1x2"].map(f0).join(" / ")}; ratios ${vs1.map(f2).join(" / ")} and ${vs2.map(f2).join(" / ")}`,
  );
  return {
    launcher: l.family,
    tokens_per_sec: {
      ranks2_threads1: res["2x1"],
      process1_threads1: res["1x1"],
      process1_threads2: res["1x2"],
    },
    ratio_vs_1x1: vs1,
    ratio_vs_1x2: vs2,
  };
}

function jsonLine(r: { code: number; stdout: string; stderr: string }, what: string): Record<string, number> {
  if (r.code !== 0) {
    throw new UserError(`${what} failed (exit ${r.code}): ${r.stderr.trim().split("\n").at(-1)}`);
  }
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
