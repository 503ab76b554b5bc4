import assert from "node:assert/strict";

const ROOT = new URL("../../../", import.meta.url).pathname;
const FIX = "tests/fixtures/eval";
const CKPT = `${FIX}/model`;
const TASK_LIST = "hellaswag,obqa,winogrande,arc_easy,arc_challenge,boolq,piqa";
const TOLERANCE = 1e-3;

/** Runs `deno task eval` as the task line does (the model's eval CLI, which hands `--mc`/`--tasks` on). */
async function evalCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "packages/eval/eval_cli.ts", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const lastLine = (s: string) => s.trimEnd().split("\n").at(-1)!;

interface Sample {
  task?: string;
  where: string;
  loglikelihoods: number[];
  pred: number;
  pred_norm: number;
  pred_bytes: number;
  label: number;
}

async function readSamples(path: string): Promise<Sample[]> {
  return (await Deno.readTextFile(path)).trimEnd().split("\n").map((l) => JSON.parse(l));
}

interface McExpected {
  items: { loglikelihoods: number[]; pred: number; pred_norm: number; pred_bytes: number; label: number }[];
  acc: number;
  acc_norm: number;
  acc_bytes: number;
  n: number;
}

for (const backend of ["wasm", "reference"]) {
  Deno.test(`--mc on the fixture checkpoint (${backend}): log-likelihoods within 1e-3 of PyTorch, same metrics`, async () => {
    const expected: McExpected = JSON.parse(await Deno.readTextFile(`${ROOT}${FIX}/mc_expected.json`));
    const dir = await Deno.makeTempDir();
    try {
      const r = await evalCli([
        "--checkpoint",
        CKPT,
        "--mc",
        `${FIX}/mc.jsonl`,
        "--log-samples",
        `${dir}/samples.jsonl`,
        "--backend",
        backend,
        "--batch-tokens",
        "256",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(lastLine(r.stdout)), {
        acc: expected.acc,
        acc_norm: expected.acc_norm,
        acc_bytes: expected.acc_bytes,
        n: expected.n,
      });
      const samples = await readSamples(`${dir}/samples.jsonl`);
      assert.equal(samples.length, 16);
      let maxErr = 0;
      samples.forEach((s, i) => {
        const e = expected.items[i];
        assert.equal(s.where, `${FIX}/mc.jsonl:${i + 1}`);
        assert.equal(s.loglikelihoods.length, e.loglikelihoods.length);
        s.loglikelihoods.forEach((ll, j) => (maxErr = Math.max(maxErr, Math.abs(ll - e.loglikelihoods[j]))));
        assert.deepEqual([s.pred, s.pred_norm, s.pred_bytes, s.label], [
          e.pred,
          e.pred_norm,
          e.pred_bytes,
          e.label,
        ]);
      });
      assert.ok(maxErr < TOLERANCE, `max log-likelihood error ${maxErr}`);
      // The fixture is built so that the three metrics disagree somewhere.
      assert.ok(expected.items.some((e) => e.pred !== e.pred_norm));
      assert.ok(expected.items.some((e) => e.pred_norm !== e.pred_bytes));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("--mc --limit scores the first N items", async () => {
  const expected: McExpected = JSON.parse(await Deno.readTextFile(`${ROOT}${FIX}/mc_expected.json`));
  const r = await evalCli(["--checkpoint", CKPT, "--mc", `${FIX}/mc.jsonl`, "--limit", "5"]);
  assert.equal(r.code, 0, r.stderr);
  const first = expected.items.slice(0, 5);
  const mean = (f: (e: McExpected["items"][0]) => boolean) => first.filter(f).length / 5;
  assert.deepEqual(JSON.parse(lastLine(r.stdout)), {
    acc: mean((e) => e.pred === e.label),
    acc_norm: mean((e) => e.pred_norm === e.label),
    acc_bytes: mean((e) => e.pred_bytes === e.label),
    n: 5,
  });
});

interface TasksExpected {
  tasks: Record<
    string,
    { items: { loglikelihoods: number[] }[]; acc: number; acc_norm: number | null; n: number }
  >;
}

Deno.test("--tasks: the seven sample files score as lm-eval scored them, with the paper's table", async () => {
  const expected: TasksExpected = JSON.parse(await Deno.readTextFile(`${ROOT}${FIX}/tasks_expected.json`));
  const dir = await Deno.makeTempDir();
  try {
    const r = await evalCli([
      "--checkpoint",
      CKPT,
      "--tasks",
      TASK_LIST,
      "--task-dir",
      `${FIX}/tasks`,
      "--output",
      `${dir}/results.json`,
      "--log-samples",
      `${dir}/samples.jsonl`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(lastLine(r.stdout));
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/results.json`)), report);
    const names = TASK_LIST.split(",");
    assert.deepEqual(Object.keys(report.tasks), names);
    for (const name of names) {
      const e = expected.tasks[name];
      assert.equal(report.tasks[name].acc, e.acc, `${name} acc`);
      assert.equal(report.tasks[name].acc_norm, e.acc_norm, `${name} acc_norm`);
      assert.equal(report.tasks[name].n, e.n, `${name} n`);
    }
    const paper = names.map((n) => expected.tasks[n].acc_norm ?? expected.tasks[n].acc);
    assert.ok(Math.abs(report.average.paper - paper.reduce((a, b) => a + b) / paper.length) < 1e-12);
    assert.match(r.stdout, /HellaSwag +Obqa +WinoGrande +ARC-E +ARC-C +boolq +piqa +Avg\n/);

    const samples = await readSamples(`${dir}/samples.jsonl`);
    assert.equal(samples.length, 35);
    let maxErr = 0;
    for (const name of names) {
      const mine = samples.filter((s) => s.task === name);
      assert.equal(mine.length, 5);
      mine.forEach((s, i) =>
        s.loglikelihoods.forEach((ll, j) =>
          maxErr = Math.max(maxErr, Math.abs(ll - expected.tasks[name].items[i].loglikelihoods[j]))
        )
      );
    }
    assert.ok(maxErr < TOLERANCE, `max log-likelihood error ${maxErr}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad input: one line on stderr naming file, line and field, exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/malformed.jsonl`,
      '{"context": "a", "choices": ["b", "c"], "label": 0}\n{"context": \n',
    );
    await Deno.writeTextFile(`${dir}/range.jsonl`, '{"context": "a", "choices": ["b", "c"], "label": 2}\n');
    await Deno.writeTextFile(`${dir}/missing.jsonl`, '{"context": "a", "label": 0}\n');
    await Deno.mkdir(`${dir}/tasks`);
    await Deno.writeTextFile(`${dir}/tasks/piqa.jsonl`, '{"goal": "g", "sol1": "a", "sol2": "b"}\n');
    await Deno.mkdir(`${dir}/notok`);
    for (const f of ["config.json", "model.safetensors"]) {
      await Deno.copyFile(`${ROOT}${CKPT}/${f}`, `${dir}/notok/${f}`);
    }
    const cases: [string[], RegExp][] = [
      [["--mc", `${dir}/malformed.jsonl`], /malformed\.jsonl:2: not valid JSON/],
      [["--mc", `${dir}/range.jsonl`], /range\.jsonl:1: field "label": 2 is out of range for 2 choices/],
      [["--mc", `${dir}/missing.jsonl`], /missing\.jsonl:1: missing field "choices"/],
      [["--tasks", "piqa,squad", "--task-dir", `${dir}/tasks`], /--tasks: unknown task "squad"/],
      [["--tasks", "piqa", "--task-dir", `${dir}/tasks`], /tasks\/piqa\.jsonl:1: missing field "label"/],
      [["--tasks", "boolq", "--task-dir", `${dir}/tasks`], /tasks\/boolq\.jsonl: not found/],
      [["--tasks", "piqa"], /--tasks needs --task-dir/],
      [["--mc", `${FIX}/mc.jsonl`, "--tasks", "piqa"], /either --mc FILE or --tasks LIST/],
      [["--mc", `${FIX}/mc.jsonl`, "--limit", "0"], /--limit must be an integer ≥ 1, got "0"/],
      // Output paths are checked before any scoring (these used to fail after it, with a stack trace).
      [
        ["--mc", `${FIX}/mc.jsonl`, "--log-samples", dir],
        /^error: --log-samples .*: is a directory, not a file$/,
      ],
      [
        ["--mc", `${FIX}/mc.jsonl`, "--log-samples", `${dir}/range.jsonl/s.jsonl`],
        /^error: --log-samples .*range\.jsonl\/s\.jsonl: a part of the path is a file, not a directory$/,
      ],
      [
        ["--mc", `${FIX}/mc.jsonl`, "--log-samples", `${dir}/none/s.jsonl`],
        /^error: --log-samples .*none\/s\.jsonl: the directory .*none does not exist$/,
      ],
      [
        ["--mc", `${FIX}/mc.jsonl`, "--output", `${dir}/none/r.json`],
        /^error: --output .*: the directory .*none does not exist$/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await evalCli(["--checkpoint", CKPT, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^error: /);
      assert.match(lines[0], re);
    }
    await assert.rejects(Deno.stat(`${dir}/none`), Deno.errors.NotFound);
    const r = await evalCli(["--checkpoint", `${dir}/notok`, "--mc", `${FIX}/mc.jsonl`]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr.trimEnd(),
      /^error: .*notok: no tokenizer\.model or tokenizer\.json \(scoring needs/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
