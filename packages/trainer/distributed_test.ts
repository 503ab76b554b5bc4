import assert from "node:assert/strict";
import { ReferenceBackend } from "@tinyllama-ts/backend";
import { openSafetensors } from "@tinyllama-ts/checkpoint";
import { Optimizer } from "@tinyllama-ts/optim";
import { installedLaunchers, type JobResult, launch, type Launcher } from "@tinyllama-ts/mpi/testing";
import { gpuTestRegistrar, tryWebGpu } from "../backend-webgpu/_webgpu/test_gpu.ts";
import { makeTinyRun } from "./_test_data.ts";
import { DataParallel, ShardedOptimizer, SINGLE_RANK } from "./distributed.ts";
import { exists } from "@tinyllama-ts/cli";
import { parsePretrainFlags, trainOptionsFromFlags } from "./flags.ts";
import { loadOptimizerState } from "./optimizer_state.ts";
import { readMetrics, type StepRecord } from "./metrics.ts";
import { train } from "./train.ts";

const tmp = await Deno.makeTempDir({ prefix: "distributed-test-" });
const tiny = await makeTinyRun(tmp);
const launchers = await installedLaunchers();
const entry = new URL("./pretrain_mpi_cli.ts", import.meta.url).pathname;
const cli = new URL("./pretrain_cli.ts", import.meta.url).pathname;
let runs = 0;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fresh = () => `${tmp}/run-${runs++}`;

/** 10 steps of 4 accumulated micro-batches of 2 (2 a rank on 2 ranks), checkpoints after 5 and 10. */
const FLAGS = [
  ...["--config", tiny.config, "--data", tiny.data, "--micro-batch-size", "2", "--global-batch-size", "8"],
  ...["--max-steps", "10", "--lr", "1e-2", "--min-lr", "1e-3", "--warmup-steps", "2", "--eval-iters", "1"],
  ...["--save-interval", "5", "--eval-interval", "0"],
];

/** One process, in this one. */
async function single(out: string, extra: string[] = [], parallel?: DataParallel): Promise<string> {
  await train(
    trainOptionsFromFlags(parsePretrainFlags([...FLAGS, "--out", out, ...extra]), {
      log: () => {},
      parallel,
    }),
  );
  return out;
}

/** `n` ranks of `pretrain:mpi train` under `launcher`. */
async function ranks(launcher: Launcher, n: number, out: string, extra: string[] = []): Promise<JobResult> {
  const r = await launch(launcher, n, [...denoRun(entry, true), "train", ...FLAGS, "--out", out, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

function denoRun(script: string, ffi: boolean): string[] {
  return [
    Deno.execPath(),
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    ...(ffi ? ["--allow-ffi"] : []),
    script,
  ];
}

async function steps(out: string): Promise<StepRecord[]> {
  return (await readMetrics(`${out}/metrics.jsonl`)).filter((r): r is StepRecord => "loss" in r);
}

async function params(out: string, step = 10): Promise<Map<string, Float32Array>> {
  const st = await openSafetensors(`${out}/checkpoints/step-${String(step).padStart(8, "0")}`);
  try {
    const m = new Map<string, Float32Array>();
    for (const name of st.names()) m.set(name, await st.read(name));
    return m;
  } finally {
    st.close();
  }
}

/** Largest |a − b| over the step losses and grad norms, and over the final parameters. */
async function difference(a: string, b: string): Promise<{ losses: number; params: number }> {
  const [sa, sb] = [await steps(a), await steps(b)];
  assert.deepEqual(sa.map((s) => s.step), sb.map((s) => s.step));
  let losses = 0;
  sa.forEach((s, i) => {
    losses = Math.max(losses, Math.abs(s.loss! - sb[i].loss!), Math.abs(s.grad_norm! - sb[i].grad_norm!));
  });
  const [pa, pb] = [await params(a), await params(b)];
  assert.deepEqual([...pa.keys()], [...pb.keys()]);
  let p = 0;
  for (const [name, x] of pa) {
    const y = pb.get(name)!;
    for (let i = 0; i < x.length; i++) p = Math.max(p, Math.abs(x[i] - y[i]));
  }
  return { losses, params: p };
}

async function assertClose(a: string, b: string, tolerance = 1e-5) {
  const d = await difference(a, b);
  assert.ok(d.losses <= tolerance && d.params <= tolerance, `${a} vs ${b}: ${JSON.stringify(d)}`);
  // And not vacuously: the run learned something.
  const s = await steps(a);
  assert.ok(s.at(-1)!.loss! < s[0].loss! * 0.95, `loss ${s[0].loss} → ${s.at(-1)!.loss}`);
}

async function assertIdentical(a: string, b: string) {
  assert.deepEqual(
    (await steps(a)).map((s) => [s.loss, s.grad_norm]),
    (await steps(b)).map((s) => [s.loss, s.grad_norm]),
  );
  assert.deepEqual(await params(a), await params(b));
}

/** A run "killed" after its step-5 checkpoint: the later checkpoint gone, the metrics running on. */
async function killedCopy(from: string): Promise<string> {
  const out = fresh();
  await new Deno.Command("cp", { args: ["-r", from, out] }).output();
  await Deno.remove(`${out}/checkpoints/step-00000010`, { recursive: true });
  await Deno.writeTextFile(`${out}/metrics.jsonl`, '{"step": 9, "lo', { append: true });
  return out;
}

let reference: Promise<string> | undefined;
const singleProcess = () => reference ??= single(fresh());

Deno.test("sharded AdamW on one rank is the plain optimizer, and their files are interchangeable", async () => {
  const plain = await singleProcess();
  const sharded = await single(fresh(), [], new DataParallel(SINGLE_RANK, { shardOptimizer: true }));
  await assertClose(sharded, plain, 1e-6);
  // The sharded optimizer's state file loads into the plain optimizer, and back, unchanged.
  const be = new ReferenceBackend();
  const st = await openSafetensors(`${sharded}/checkpoints/step-00000010/optimizer.safetensors`);
  const names = st.names().filter((n) => n.startsWith("m.")).map((n) => n.slice(2));
  const shapes = names.map((n) => st.info(`m.${n}`).shape);
  st.close();
  const slots = names.map((name, i) => {
    const size = shapes[i].reduce((a, b) => a * b, 1);
    return { name, shape: shapes[i], param: be.alloc(size), grad: be.alloc(size) };
  });
  const config = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1 };
  const opt = new Optimizer(be, slots, config);
  await loadOptimizerState(opt, `${sharded}/checkpoints/step-00000010/optimizer.safetensors`);
  assert.equal(opt.stepCount, 10);
  const again = new ShardedOptimizer(be, slots, config, SINGLE_RANK);
  await again.loadState(`${plain}/checkpoints/step-00000010/optimizer.safetensors`);
  assert.equal(again.stepCount, 10);
  await again.gatherMoments();
  await again.saveState(`${tmp}/resaved.safetensors`);
  assert.deepEqual(
    await Deno.readFile(`${tmp}/resaved.safetensors`),
    await Deno.readFile(`${plain}/checkpoints/step-00000010/optimizer.safetensors`),
  );
});

for (const launcher of launchers) {
  const f = launcher.family;
  Deno.test(`${f}: 2 ranks train as one process, replicated and sharded optimizer (1e-5)`, async () => {
    const plain = fresh(), sharded = fresh();
    const r = await ranks(launcher, 2, plain);
    await ranks(launcher, 2, sharded, ["--shard-optimizer"]);
    await assertClose(plain, await singleProcess());
    await assertClose(sharded, await singleProcess());
    // Only rank 0 speaks: one summary line, one start line.
    assert.equal(r.stdout.trim().split("\n").length, 1, r.stdout);
    assert.equal(r.stderr.match(/^training /gm)?.length, 1, r.stderr);
    assert.match((await Deno.readTextFile(`${sharded}/metrics.jsonl`)).split("\n")[0], /"step":0/);
  });

  Deno.test(`${f}: repeated 2-rank runs are bit-identical; a killed run resumes bit-identically`, async () => {
    const a = fresh(), b = fresh();
    await ranks(launcher, 2, a, ["--shard-optimizer"]);
    await ranks(launcher, 2, b, ["--shard-optimizer"]);
    await assertIdentical(a, b);
    // Killed after step 7: resumed from step 5 on 2 ranks (bit for bit), and on one process (1e-5).
    const resumed = await killedCopy(a);
    await ranks(launcher, 2, resumed, ["--shard-optimizer", "--resume", "auto"]);
    await assertIdentical(resumed, a);
    const alone = await killedCopy(a);
    await single(alone, ["--resume", "auto"]);
    await assertClose(alone, a);
  });
}

Deno.test({
  name: "a 2-rank job killed with SIGKILL mid-run resumes bit-identically",
  ignore: launchers.length === 0,
  fn: async () => {
    const launcher = launchers[0];
    const long = ["--max-steps", "30", "--save-interval", "3"];
    const whole = fresh(), killed = fresh();
    await ranks(launcher, 2, whole, long);
    // The launcher in a process group of its own, so that one kill reaches it and every rank.
    const args = [
      ...launcher.command(2),
      ...denoRun(entry, true),
      "train",
      ...FLAGS,
      ...long,
      "--out",
      killed,
    ];
    const job = new Deno.Command("setsid", {
      args,
      env: { TINYLLAMA_THREADS: "1" },
      stderr: "null",
      stdout: "null",
    })
      .spawn();
    for (let waited = 0; !(await exists(`${killed}/checkpoints/step-00000003`)); waited += 10) {
      if (waited > 60_000) throw new Error("the job wrote no checkpoint in a minute");
      await delay(10);
    }
    Deno.kill(-job.pid, "SIGKILL");
    assert.equal((await job.status).signal, "SIGKILL");
    assert.ok(!(await exists(`${killed}/checkpoints/step-00000030`)), "the job was killed before its end");
    await ranks(launcher, 2, killed, [...long, "--resume", "auto"]);
    const [a, b] = [await steps(killed), await steps(whole)];
    assert.deepEqual(
      a.map((s) => [s.step, s.loss, s.grad_norm]),
      b.map((s) => [s.step, s.loss, s.grad_norm]),
    );
    assert.deepEqual(await params(killed, 30), await params(whole, 30));
  },
});

const mpich = launchers.find((l) => l.family === "mpich");
const first = mpich ?? launchers[0];

Deno.test({
  name: "a one-process checkpoint continues on 2 ranks",
  ignore: !first,
  fn: async () => {
    const resumed = await killedCopy(await singleProcess());
    await ranks(first!, 2, resumed, ["--resume", "auto"]);
    await assertClose(resumed, await singleProcess());
  },
});

Deno.test({
  name: "pretrain:mpi refusals: a batch that does not split, a rank failing at start, no MPI library",
  ignore: !first,
  fn: async () => {
    const oneLine = (r: JobResult, pattern: RegExp) => {
      assert.notEqual(r.code, 0);
      const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
      assert.equal(errors.length, 1, r.stderr);
      assert.match(errors[0], pattern);
    };
    const out = fresh();
    const args = [...denoRun(entry, true), "train", ...FLAGS, "--out", out];
    // 8 sequences do not split into micro-batches of 2 on 3 ranks.
    oneLine(
      await launch(first!, 3, args),
      /--global-batch-size 8 does not split into --micro-batch-size 2 × 3 ranks/,
    );
    // Rank 1's node lacks the data directory (the launchers' MPMD form gives it other flags).
    const bad = args.map((a) => a === tiny.data ? `${tmp}/no-such-data` : a);
    const [cmd, ...rest] = [...first!.command(1), ...args, ":", ...first!.command(1).slice(1), ...bad];
    const out2 = await new Deno.Command(cmd, { args: rest, env: { TINYLLAMA_THREADS: "1" }, stderr: "piped" })
      .output();
    oneLine(
      { code: out2.code, stdout: "", stderr: new TextDecoder().decode(out2.stderr) },
      /^error: rank 1: .*no-such-data/,
    );
    // No MPI library where the variable points.
    oneLine(
      await launch(first!, 2, args, { TINYLLAMA_MPI_LIB: `${tmp}/libmpi.so.12` }),
      /cannot load it as an MPI library \(install the Debian package mpich or openmpi-bin/,
    );
    // Nothing was written.
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "pretrain:mpi: --help is printed once (rank 0); stages other than train are refused in one line",
  ignore: !first,
  fn: async () => {
    const help = await launch(first!, 2, [...denoRun(entry, true), "--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.equal(help.stdout.match(/^usage: /gm)?.length, 1, help.stdout);
    assert.match(help.stdout, /--shard-optimizer/);
    const out = fresh();
    const r = await launch(first!, 2, [...denoRun(entry, true), "eval", "--out", out]);
    assert.notEqual(r.code, 0);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], /pretrain:mpi trains; run the eval stage with one process/);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  },
});

for (const launcher of launchers) {
  Deno.test(`${launcher.family}: deno task pretrain under a 2-rank launcher refuses and names pretrain:mpi`, async () => {
    const out = fresh();
    const r = await launch(launcher, 2, [...denoRun(cli, false), "train", ...FLAGS, "--out", out]);
    assert.notEqual(r.code, 0);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("error: "));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0], /an MPI launcher started 2: run deno task pretrain:mpi/);
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  });
}

Deno.test({
  name: "data-parallel training: skipped, no MPI launcher installed (apt-get install mpich openmpi-bin)",
  ignore: launchers.length > 0,
  fn() {},
});

// WebGPU: two ranks on two lavapipe devices against one lavapipe process (both started the same way).
const gpuProbe = await tryWebGpu();
if (typeof gpuProbe !== "string") gpuProbe.destroy();
const gpuTest = gpuTestRegistrar<null>(typeof gpuProbe === "string" ? gpuProbe : null);
if (first) {
  gpuTest("webgpu: 2 ranks train as one process (1e-5)", async () => {
    const gpu = ["--backend", "webgpu"];
    const alone = fresh(), two = fresh();
    const r = await new Deno.Command(Deno.execPath(), {
      args: [...denoRun(cli, false).slice(1), "train", ...FLAGS, "--out", alone, ...gpu],
      stderr: "piped",
      stdout: "null",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    await ranks(first, 2, two, gpu);
    await assertClose(two, alone);
  });
}
