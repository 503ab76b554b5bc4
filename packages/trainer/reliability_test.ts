// Issue #21 for `deno task pretrain`, run as a user runs it (a subprocess with the task's permissions):
// output paths, one writer per run directory, all data checked before the first step, configs checked
// against the backend before allocation, and no checkpoint of a diverged model. Each case asserts the
// exit code, the one-line message and what is (not) on disk afterwards.
import assert from "node:assert/strict";
import { encodeShardHeader, ShardWriter } from "@tinyllama-ts/data";
import { lockRunDir } from "@tinyllama-ts/cli";
import { listCheckpoints } from "./checkpoint.ts";
import { makeTinyRun, TINY_CONFIG } from "./_test_data.ts";

const CLI = new URL("./pretrain_cli.ts", import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "pretrain-reliability-test-" });
const tiny = await makeTinyRun(tmp);
const BASE = [
  ...["--config", tiny.config, "--data", tiny.data, "--micro-batch-size", "2", "--global-batch-size", "2"],
  ...["--warmup-steps", "0", "--eval-iters", "1"],
];

async function pretrain(args: string[], v8Flags: string[] = []) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", ...v8Flags, CLI, ...args],
    cwd: tmp,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}

function refused(r: { code: number; stderr: string }, re: RegExp) {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
}

const absent = async (p: string) => assert.equal(await Deno.stat(p).catch(() => null), null, p);
const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("pretrain: --out a file or under a file is refused in one line by every stage", async () => {
  const file = `${tmp}/afile`;
  await Deno.writeTextFile(file, "x");
  refused(
    await pretrain(["--out", file, "--resume", "auto"]),
    /^error: --out .*afile: exists and is not a directory$/,
  );
  refused(
    await pretrain(["eval", "--out", `${file}/run`]),
    /^error: --out .*afile\/run: a part of the path is a file/,
  );
  refused(
    await pretrain(["report", "--out", `${file}/run`]),
    /^error: --out .*afile\/run: a part of the path is a file/,
  );
  assert.equal(await Deno.readTextFile(file), "x");
});

Deno.test("pretrain: one writer per run directory; the second refuses in one line and writes nothing", async () => {
  const out = `${tmp}/locked`;
  const lock = await lockRunDir(out); // another run holds it
  try {
    refused(
      await pretrain([...BASE, "--max-steps", "1", "--out", out]),
      new RegExp(`^error: --out .*locked: in use by pid ${Deno.pid} on .*; one writer per directory$`),
    );
    assert.deepEqual(names(out), [".lock"]);
  } finally {
    lock.release();
  }
  await absent(out);
});

Deno.test("pretrain: a bad validation shard is found before the first step; --out is not created", async () => {
  const data = `${tmp}/badval`;
  await Deno.mkdir(data);
  const w = new ShardWriter({ dir: data, prefix: "train", chunkSize: 17 * 8, dtype: "uint16", padToken: 1 });
  await w.add(Array.from({ length: 17 * 8 }, (_, i) => i % 64));
  await w.finish();
  // A float dtype code in the header of the validation shard.
  const header = encodeShardHeader({ dtype: "uint16", chunkSize: 17 });
  header[15] = 6;
  await Deno.writeFile(`${data}/val_0000000000.bin`, new Uint8Array([...header, ...new Uint8Array(34)]));
  const out = `${tmp}/badval-run`;
  refused(
    await pretrain(["--config", tiny.config, "--data", data, "--max-steps", "50", "--out", out]),
    /^error: .*val_0000000000\.bin: dtype code 6 is a float type, not token ids$/,
  );
  await absent(out);
  // Ids beyond the model's vocabulary in the validation data, likewise.
  const big = `${tmp}/bigval`;
  await Deno.mkdir(big);
  await Deno.copyFile(`${data}/train_0000000000.bin`, `${big}/train_0000000000.bin`);
  const v = new ShardWriter({ dir: big, prefix: "val", chunkSize: 34, dtype: "uint16", padToken: 1 });
  await v.add(Array.from({ length: 34 }, (_, i) => i === 20 ? 500 : 3));
  await v.finish();
  refused(
    await pretrain(["--config", tiny.config, "--data", big, "--max-steps", "50", "--out", out]),
    /^error: .*bigval: token 500 in block 1 is outside the model's vocab_size \(96\)$/,
  );
  await absent(out);
});

Deno.test("pretrain: a train id beyond the vocabulary stops the run; what it left does not block the next", async () => {
  const data = `${tmp}/badtrain`;
  await Deno.mkdir(data);
  const w = new ShardWriter({ dir: data, prefix: "train", chunkSize: 17 * 8, dtype: "uint16", padToken: 1 });
  await w.add(Array.from({ length: 17 * 8 }, () => 500));
  await w.finish();
  const out = `${tmp}/badtrain-run`;
  const r = await pretrain([
    "train",
    "--config",
    tiny.config,
    "--data",
    data,
    "--max-steps",
    "3",
    "--out",
    out,
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.ok(!/\n\s+at /.test(r.stderr), r.stderr); // no stack trace; the run's banner, then one line
  assert.match(
    r.stderr.trimEnd().split("\n").at(-1)!,
    /^error: .*badtrain: token 500 in block \d+ is outside the model's vocab_size \(96\)$/,
  );
  assert.deepEqual(await listCheckpoints(out), []);
  const again = await pretrain(["train", ...BASE, "--max-steps", "1", "--out", out]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await listCheckpoints(out)).length, 1);
});

Deno.test("pretrain: a config of 1e9 layers is refused before allocation, within a 64 MB heap", async () => {
  const config = `${tmp}/huge.json`;
  await Deno.writeTextFile(config, JSON.stringify({ ...TINY_CONFIG, n_layer: 1e9 }));
  const out = `${tmp}/huge-run`;
  refused(
    await pretrain(["--config", config, "--data", tiny.data, "--out", out], [
      "--v8-flags=--max-old-space-size=64",
    ]),
    /^error: .*huge\.json: the model \(.*n_layer 1000000000.*\) needs .* parameters; the wasm backend holds at most 1\.074e\+9$/,
  );
  await absent(out);
});

Deno.test("pretrain: --lr 1e300 never saves non-finite weights and exits non-zero", async () => {
  const out = `${tmp}/diverged`;
  const r = await pretrain(["train", ...BASE, "--lr", "1e300", "--max-steps", "2", "--out", out]);
  assert.equal(r.code, 2, r.stderr);
  const last = r.stderr.trimEnd().split("\n").at(-1)!;
  assert.match(
    last,
    /^error: not saving: parameter ".*" holds (NaN|-?Infinity) at element \d+ \(the run diverged/,
  );
  assert.deepEqual(await listCheckpoints(out), []);
  // What it left (its metrics) does not stop the next run in the same directory.
  const again = await pretrain(["train", ...BASE, "--lr", "1e-3", "--max-steps", "1", "--out", out]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await listCheckpoints(out)).length, 1);
});

Deno.test("cleanup", async () => {
  await Deno.remove(tmp, { recursive: true });
});
