// `deno task pretrain` as a user runs it: a subprocess with the task's permissions. Bad input gives one
// line and exit 2 with nothing written; a SIGKILL at any moment leaves a checkpoint that `--resume auto`
// continues bit for bit (killed at chosen points: after a step, inside a checkpoint); SIGTERM saves and exits 143; a whole run ends with a report that Chromium renders.
import assert from "node:assert/strict";
import { optIn } from "@tinyllama-ts/cli";
import { dumpDom, findChromium, plottedPoints } from "./_chromium.ts";
import { listCheckpoints } from "./checkpoint.ts";
import { readMetrics, type StepRecord, type ValRecord } from "./metrics.ts";
import { makeTinyRun, TINY_CONFIG, TINY_TOKENIZER } from "./_test_data.ts";

const CLI = new URL("./pretrain_cli.ts", import.meta.url).pathname;
const FIXTURES = new URL("../../tests/fixtures/", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "pretrain-cli-test-" });
const tiny = await makeTinyRun(tmp);
const BASE = [
  ...["--config", tiny.config, "--data", tiny.data, "--micro-batch-size", "2", "--global-batch-size", "4"],
  ...["--lr", "1e-2", "--min-lr", "1e-3", "--warmup-steps", "2", "--eval-iters", "2"],
];

function command(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", CLI, ...args],
    cwd: tmp,
    stdout: "piped",
    stderr: "piped",
  });
}

async function runCli(args: string[]) {
  const r = await command(args).output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}

async function exists(p: string): Promise<boolean> {
  return await Deno.stat(p).then(() => true, () => false);
}

/** The deterministic part of a run's metrics: per step loss, lr, norm and tokens; validation losses. */
async function trajectoryOf(out: string) {
  return (await readMetrics(`${out}/metrics.jsonl`)).map((r) =>
    "val_loss" in r ? ["val", r.step, (r as ValRecord).val_loss] : [
      r.step,
      (r as StepRecord).loss,
      (r as StepRecord).lr,
      (r as StepRecord).grad_norm,
      (r as StepRecord).tokens,
    ]
  );
}

// ---- bad input ----

const badConfigs: Record<string, unknown> = {
  "embd.json": { ...TINY_CONFIG, n_embd: 30 },
  "groups.json": { ...TINY_CONFIG, n_query_groups: 3 },
  "types.json": { ...TINY_CONFIG, n_layer: "2" },
};
for (const [name, cfg] of Object.entries(badConfigs)) {
  await Deno.writeTextFile(`${tmp}/${name}`, JSON.stringify(cfg));
}
await Deno.writeTextFile(`${tmp}/notjson.json`, "{ n_layer: 2,");

// A data directory whose shard has a wrong magic, and one whose shard is cut short.
async function copyData(name: string, damage: (shard: string) => Promise<void>): Promise<string> {
  const dir = `${tmp}/${name}`;
  await Deno.mkdir(dir);
  for await (const e of Deno.readDir(tiny.data)) {
    await Deno.copyFile(`${tiny.data}/${e.name}`, `${dir}/${e.name}`);
  }
  await damage(`${dir}/train_0000000000.bin`);
  return dir;
}
const badMagic = await copyData("badmagic", async (f) => {
  const b = await Deno.readFile(f);
  b.set(new TextEncoder().encode("NOTPKDS"), 0);
  await Deno.writeFile(f, b);
});
const truncatedShard = await copyData("truncshard", async (f) => {
  const b = await Deno.readFile(f);
  await Deno.writeFile(f, b.subarray(0, b.length - 100));
});

// A Hugging Face directory whose config disagrees with its tensors, and one with a truncated tensor file.
async function copyHf(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = `${tmp}/${name}`;
  await Deno.mkdir(dir);
  for (const f of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(`${FIXTURES}/trainer/tiny_gqa/${f}`, `${dir}/${f}`);
  }
  await edit(dir);
  return dir;
}
const wrongShapes = await copyHf("wrongshapes", async (d) => {
  const c = JSON.parse(await Deno.readTextFile(`${d}/config.json`));
  await Deno.writeTextFile(`${d}/config.json`, JSON.stringify({ ...c, intermediate_size: 64 }));
});
const truncatedHf = await copyHf("trunchf", async (d) => {
  const b = await Deno.readFile(`${d}/model.safetensors`);
  await Deno.writeFile(`${d}/model.safetensors`, b.subarray(0, b.length - 1000));
});

Deno.test("bad input: one line, exit 2, nothing written", async (t) => {
  // A whole checkpoint to damage: its model file cut short.
  const good = await runCli([...BASE, "--max-steps", "2", "--out", `${tmp}/good`]);
  assert.equal(good.code, 0, good.stderr);
  const ckpt = `${tmp}/good/checkpoints/step-00000002`;
  const damaged = `${tmp}/damaged-ckpt`;
  await Deno.mkdir(damaged);
  for await (const e of Deno.readDir(ckpt)) await Deno.copyFile(`${ckpt}/${e.name}`, `${damaged}/${e.name}`);
  const model = await Deno.readFile(`${damaged}/model.safetensors`);
  await Deno.writeFile(`${damaged}/model.safetensors`, model.subarray(0, model.length - 64));
  const notEmpty = `${tmp}/good`;
  const metricsBefore = await Deno.readTextFile(`${notEmpty}/metrics.jsonl`);

  const cases: [string, string[], RegExp][] = [
    [
      "n_embd not divisible by n_head",
      ["--config", `${tmp}/embd.json`],
      /n_embd \(30\) is not divisible by n_head \(4\)/,
    ],
    [
      "n_head not divisible by n_query_groups",
      ["--config", `${tmp}/groups.json`],
      /n_head \(4\) is not divisible by n_query_groups \(3\)/,
    ],
    ["a config value of the wrong type", ["--config", `${tmp}/types.json`], /types\.json: key "n_layer"/],
    [
      "a flag value of the wrong type",
      ["--max-steps", "ten"],
      /--max-steps must be an integer ≥ 1, got "ten"/,
    ],
    ["a config that is not JSON", ["--config", `${tmp}/notjson.json`], /notjson\.json: not valid JSON/],
    ["an unknown preset", ["--config", "tiny-9l-1k"], /unknown config "tiny-9l-1k"/],
    ["a missing data path", ["--data", `${tmp}/nowhere`], /nowhere: no such directory/],
    ["a shard with a wrong magic", ["--data", badMagic], /train_0000000000\.bin.*magic/i],
    ["a truncated shard", ["--data", truncatedShard], /train_0000000000\.bin.*(truncated|size|bytes)/i],
    ["a truncated checkpoint (resume)", ["--resume", damaged], /model\.safetensors: truncated or changed/],
    [
      "--init-from with --config",
      ["--init-from", truncatedHf, "--config", "micro-4l-4k"],
      /--config and --init-from exclude each other/,
    ],
    ["a truncated Hugging Face checkpoint", ["--init-from", truncatedHf], /model\.safetensors.*truncated/],
    [
      "shapes that disagree with the config",
      ["--init-from", wrongShapes],
      /has shape \[48,32\].*implies \[64,32\]/,
    ],
    ["a negative learning rate", ["--lr=-0.001"], /--lr must be ≥ 0, got -0\.001/],
    ["a negative learning rate, space-separated", ["--lr", "-0.001"], /--lr.*argument is ambiguous/],
    ["--seq-len beyond block_size", ["--seq-len", "17"], /--seq-len 17 exceeds the model's block_size 16/],
    ["an unknown flag", ["--learning-rate", "1e-3"], /Unknown option '--learning-rate'/],
    ["an unknown backend", ["--backend", "cuda"], /--backend must be wasm or webgpu/],
    [
      "--shard-optimizer without MPI ranks",
      ["--shard-optimizer"],
      /--shard-optimizer shards the optimizer across MPI ranks: run deno task pretrain:mpi/,
    ],
    [
      "accumulation that does not divide",
      ["--global-batch-size", "5"],
      /not a multiple of --micro-batch-size 2/,
    ],
  ];
  for (const [what, args, pattern] of cases) {
    await t.step(what, async () => {
      const out = `${tmp}/bad-${what.replaceAll(/\W+/g, "-")}`;
      // Later flags win in parseArgs, so each case overrides BASE; --init-from replaces --config.
      const base = args.includes("--init-from") ? BASE.slice(2) : BASE;
      const r = await runCli([...base, ...args, "--out", out]);
      assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `${what}: one line, got:\n${r.stderr}`);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], pattern);
      assert.equal(r.stdout, "");
      assert.equal(await exists(out), false, `${what}: ${out} was written`);
    });
  }
  await t.step("a non-empty --out without --resume", async () => {
    const r = await runCli([...BASE, "--max-steps", "2", "--out", notEmpty]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^error: .*good is not empty: pass --resume auto to continue that run, or another --out\n$/,
    );
    assert.equal(await Deno.readTextFile(`${notEmpty}/metrics.jsonl`), metricsBefore);
  });
});

// ---- kills ----

/** Spawns a run and kills it with `signal` once `ready(out)` holds (polled), then waits for the exit. */
async function killWhen(args: string[], signal: Deno.Signal, ready: () => Promise<boolean>) {
  const child = command(args).spawn();
  const exited = child.output();
  let done = false;
  exited.then(() => done = true);
  while (!done && !(await ready())) await new Promise((r) => setTimeout(r, 5));
  const killed = !done;
  if (killed) child.kill(signal);
  const r = await exited;
  return { code: r.code, signal: r.signal, stderr: new TextDecoder().decode(r.stderr), killed };
}

const stepLines = async (out: string) =>
  (await readMetrics(`${out}/metrics.jsonl`)).filter((r) => "loss" in r).length;

const KILL_AT = new URL("./_kill_at.ts", import.meta.url).pathname;

/** Runs the CLI through the test driver that SIGKILLs itself at `at` (`step:N` or `checkpoint:N`). */
async function runUntilKilled(at: string, args: string[]) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-run", KILL_AT, at, ...args],
    cwd: tmp,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { signal: r.signal, stderr: new TextDecoder().decode(r.stderr) };
}

Deno.test("SIGKILL after a step and inside a checkpoint, then --resume auto: the uninterrupted run bit for bit", async () => {
  const args = [
    ...BASE,
    "--max-steps",
    "20",
    "--save-interval",
    "7",
    "--eval-interval",
    "5",
    "--keep-checkpoints",
    "3",
  ];
  const straight = `${tmp}/straight`;
  const s = await runCli([...args, "--out", straight]);
  assert.equal(s.code, 0, s.stderr);
  const expected = await trajectoryOf(straight);
  assert.equal(expected.filter((r) => r[0] !== "val").length, 20);

  const out = `${tmp}/killed`;
  const ckpts = () => [...Deno.readDirSync(`${out}/checkpoints`)].map((e) => e.name).sort();
  // After step 9's metrics line, before its validation: the step-7 checkpoint is the newest.
  let r = await runUntilKilled("step:9", [...args, "--out", out]);
  assert.equal(r.signal, "SIGKILL", r.stderr);
  assert.equal(await stepLines(out), 10);
  assert.deepEqual(ckpts(), ["step-00000007"]);
  // Inside the step-14 checkpoint: its tensors written, its state not; the temporary directory is left.
  r = await runUntilKilled("checkpoint:14", [...args, "--out", out, "--resume", "auto"]);
  assert.equal(r.signal, "SIGKILL", r.stderr);
  assert.equal(await stepLines(out), 14);
  const [tmpDir, ...rest] = ckpts();
  assert.match(tmpDir, /^\.tmp-step-00000014-/);
  assert.deepEqual(rest, ["step-00000007"]);
  // After the last step, before the final validation and checkpoint; the leftover was cleaned up.
  r = await runUntilKilled("step:19", [...args, "--out", out, "--resume", "auto"]);
  assert.equal(r.signal, "SIGKILL", r.stderr);
  assert.equal(await stepLines(out), 20);
  assert.deepEqual(ckpts(), ["step-00000007", "step-00000014"]);

  const last = await runCli([...args, "--out", out, "--resume", "auto"]);
  assert.equal(last.code, 0, last.stderr);
  assert.deepEqual(await trajectoryOf(out), expected);
  // The final model and optimizer state are the same bytes too.
  for (const f of ["model.safetensors", "optimizer.safetensors"]) {
    assert.deepEqual(
      await Deno.readFile(`${out}/checkpoints/step-00000020/${f}`),
      await Deno.readFile(`${straight}/checkpoints/step-00000020/${f}`),
      f,
    );
  }
  // Nothing half-written is left behind.
  assert.deepEqual(ckpts(), ["step-00000007", "step-00000014", "step-00000020"]);
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`${signal} saves a checkpoint after the current step and exits ${code}`, async () => {
    const out = `${tmp}/${signal}`;
    const args = [...BASE, "--max-steps", "400", "--save-interval", "0", "--out", out];
    const r = await killWhen(args, signal, async () => (await stepLines(out)) >= 3);
    assert.ok(r.killed, r.stderr);
    assert.equal(r.code, code, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    const stopped = new RegExp(
      `^${signal}: stopped after step (\\d+); checkpoint (\\S+) \\(continue with --resume auto\\)$`,
    ).exec(lines.at(-1)!);
    assert.ok(stopped, r.stderr);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
    const step = Number(stopped[1]);
    assert.ok(step >= 3 && step < 400);
    assert.deepEqual((await listCheckpoints(out)).map((c) => c.step), [step]);
    assert.equal(await stepLines(out), step, "the checkpoint holds every step the metrics show");
  });
}

// ---- a whole run ----

Deno.test("a flagged run trains, evaluates, samples and writes a report that renders; stages run alone", async (t) => {
  const out = `${tmp}/whole`;
  const r = await runCli([
    ...BASE,
    "--max-steps",
    "30",
    "--eval-interval",
    "10",
    "--tokenizer",
    TINY_TOKENIZER,
    "--out",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trimEnd().split("\n").at(-1)!);
  assert.deepEqual(Object.keys(summary), ["out", "checkpoint", "val_loss", "tokens", "seconds"]);
  assert.equal(summary.out, out);
  assert.equal(summary.checkpoint, `${out}/checkpoints/step-00000030`);
  assert.equal(summary.tokens, 30 * 4 * 16);
  assert.ok(summary.val_loss > 0 && summary.val_loss < Math.log(96));
  const ev = JSON.parse(await Deno.readTextFile(`${out}/eval.json`));
  assert.equal(ev.val_loss, summary.val_loss);
  assert.equal(typeof ev.sample.completion, "string");
  assert.ok(ev.sample.completion.length > 0);
  assert.match(r.stderr, /loss \d\.\d+ → \d\.\d+ \(\d+\.\d% lower\)/);

  // The eval and report stages alone give the same numbers for the same checkpoint.
  const again = await runCli(["eval", "--out", out]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).val_loss, summary.val_loss);
  const rep = await runCli(["report", "--out", out]);
  assert.equal(rep.code, 0, rep.stderr);
  const repSummary = JSON.parse(rep.stdout.trimEnd().split("\n").at(-1)!);
  assert.equal(repSummary.val_loss, summary.val_loss);
  const badStage = await runCli(["eval", "--max-steps", "3"]);
  assert.equal(badStage.code, 2);
  assert.match(badStage.stderr, /^error: the eval stage takes only --out/);

  const html = await Deno.readTextFile(`${out}/report.html`);
  assert.match(html, /test-tiny/);
  assert.ok(
    html.includes(ev.sample.completion.replaceAll("&", "&amp;").replaceAll("<", "&lt;").slice(0, 10)),
  );
  const chromium = await findChromium();
  await t.step({
    name: chromium
      ? "the report renders in headless Chromium"
      : "the report renders in headless Chromium (no chromium found: skipped; TINYLLAMA_REQUIRE_CHROMIUM=1 fails instead)",
    // Skipped visibly without Chromium, unless TINYLLAMA_REQUIRE_CHROMIUM=1 makes its absence a failure.
    ignore: chromium === null && !optIn("TINYLLAMA_REQUIRE_CHROMIUM"),
    fn: async () => {
      assert.ok(chromium, "TINYLLAMA_REQUIRE_CHROMIUM is set but chromium is missing");
      const dom = await dumpDom(chromium, `${out}/report.html`);
      assert.match(dom, /data-plots="4"/);
      assert.deepEqual(plottedPoints(dom), { loss: 30, val_loss: 3, lr: 30, throughput: 30 });
    },
  });
});

Deno.test("cleanup", async () => {
  await Deno.remove(tmp, { recursive: true });
});
