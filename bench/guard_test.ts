import assert from "node:assert/strict";
import { compareRatios, formatChanges } from "./guard.ts";
import { median, summarizeRatios } from "./ratios.ts";

Deno.test("bench guard: a ratio past the band regresses, inside it is steady, a new one is new", () => {
  const changes = compareRatios(
    { "cpu.matmul": 0.5, "cpu.train.a": 1.0 },
    { "cpu.matmul": 0.42, "cpu.train.a": 0.9, "tokenizer.encode": 2 },
    0.15,
  );
  assert.deepEqual(changes.map((c) => c.verdict), ["regressed", "steady", "new"]);
  assert.ok(Math.abs(changes[0].change! - (0.42 / 0.5 - 1)) < 1e-12);
  assert.match(
    formatChanges(changes, 0.15),
    /\| cpu\.matmul \| 0\.500 \| 0\.420 \| -16\.0 % \| regressed \|/,
  );
  assert.deepEqual(compareRatios(null, { x: 1 }, 0.1).map((c) => c.verdict), ["new"]);
  assert.equal(compareRatios({ x: 1 }, { x: 1.2 }, 0.1)[0].verdict, "better");
});

Deno.test("bench ratios: paired per round, summarised by median; a missing peer gives no ratio", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  const rounds = [
    {
      cpu: { matmul_gflops: 100, train: { a: { tokens_per_sec: 10 } } },
      torch: { matmul_gflops: 200, train: { a: { tokens_per_sec: 20 } } },
    },
    {
      cpu: { matmul_gflops: 90, train: { a: { tokens_per_sec: 12 } } },
      torch: { matmul_gflops: 100, train: { a: { tokens_per_sec: 10 } } },
    },
    { cpu: { matmul_gflops: 50 } },
  ];
  const r = summarizeRatios(rounds);
  assert.deepEqual(r["cpu.matmul"].rounds, [0.5, 0.9]);
  assert.equal(r["cpu.matmul"].median, 0.7);
  assert.deepEqual([r["cpu.train.a"].min, r["cpu.train.a"].max], [0.5, 1.2]);
  const mpi = summarizeRatios([{
    mpi: {
      allreduce: { mpich: { "4MiB": { ratios: [0.9, 1.1, 1.3] } } },
      train: { ratio_vs_1x1: [1.5, 1.7, 1.6], ratio_vs_1x2: [1.2] },
    },
  }, { mpi: { skipped: "no MPI launcher" } }]);
  assert.deepEqual(Object.keys(mpi), ["mpi.allreduce.mpich.4MiB", "mpi.train.1x1", "mpi.train.1x2"]);
  assert.equal(mpi["mpi.allreduce.mpich.4MiB"].median, 1.1);
  assert.equal(mpi["mpi.train.1x1"].median, 1.6);
});

Deno.test("bench guard CLI: appends to the history and exits 1 on a regression", async () => {
  const dir = await Deno.makeTempDir();
  const result = `${dir}/r.json`, history = `${dir}/h.jsonl`;
  const run = async (median: number) => {
    await Deno.writeTextFile(
      result,
      JSON.stringify({ date: "d", ratios: { x: { rounds: [median], min: median, median, max: median } } }),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        new URL("./guard.ts", import.meta.url).pathname,
        "--result",
        result,
        "--history",
        history,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { GITHUB_STEP_SUMMARY: "" },
    }).output();
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  };
  assert.equal((await run(1)).code, 0);
  assert.equal((await run(0.95)).code, 0);
  const bad = await run(0.7);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /::error title=benchmark regression::x fell from 0\.950 to 0\.700/);
  const lines = (await Deno.readTextFile(history)).trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.ratios.x), [1, 0.95, 0.7]);
  await Deno.remove(dir, { recursive: true });
});
