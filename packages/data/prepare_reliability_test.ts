// Issue #21's groups for prepare, the corpus CLI and the dataset manifest: each case asserts the exit
// code (or the error), the one-line message, and what is (not) on disk afterwards.
import assert from "node:assert/strict";
import { isUserError, LOCK_FILE, lockRunDir } from "@tinyllama-ts/cli";
import { MANIFEST_FILE, readManifest } from "./manifest.ts";
import { prepareDataset, type PrepareOptions, STAGING_PREFIX } from "./prepare.ts";
import { BYTE_TOKENIZER_MODULE, writeByteTokenizer } from "./_test_tokenizer.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SPM = `${ROOT}tests/fixtures/data/spm_llama_like.model`;

async function withTemp(f: (dir: string, tokenizer: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir, await writeByteTokenizer(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function prepare(opts: Omit<PrepareOptions, "tokenizerModule" | "progress">) {
  return prepareDataset({ tokenizerModule: BYTE_TOKENIZER_MODULE, progress: false, workers: 0, ...opts });
}

async function cli(file: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", `${ROOT}packages/data/${file}`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

function oneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], pattern);
}

const ls = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
const absent = async (path: string) => assert.equal(await Deno.stat(path).catch(() => null), null, path);

Deno.test("prepare: sizes from flags are bounded before any work (--chunk-size, --workers)", async () => {
  await withTemp(async (tmp, tokenizer) => {
    await Deno.writeTextFile(`${tmp}/a.jsonl`, '{"text":"hello"}\n');
    const cases: [string, RegExp][] = [
      ["99999999999", /^error: --chunk-size must be an integer from 1 to 134217728, got "99999999999"$/],
      ["1500000000", /^error: --chunk-size must be an integer from 1 to 134217728, got "1500000000"$/],
    ];
    for (const [chunk, pattern] of cases) {
      const r = await cli("prepare_cli.ts", [
        "--tokenizer",
        tokenizer,
        "--input",
        `${tmp}/a.jsonl`,
        "--out",
        `${tmp}/o`,
        "--chunk-size",
        chunk,
      ]);
      assert.equal(r.code, 2);
      oneLineError(r.stderr, pattern);
      await absent(`${tmp}/o`);
    }
    // The library refuses the same bound (no RangeError from a typed array of 1.5e9 elements).
    await assert.rejects(
      () => prepare({ tokenizer, inputs: [`${tmp}/a.jsonl`], out: `${tmp}/o`, chunkSize: 1_500_000_000 }),
      (e) => isUserError(e) && /--chunk-size must be an integer from 1 to 134217728/.test(e.message),
    );
    await absent(`${tmp}/o`);
  });
});

Deno.test("prepare and corpus: output paths are checked first; --out / or a foreign directory is refused", async () => {
  await withTemp(async (tmp, tokenizer) => {
    await Deno.writeTextFile(`${tmp}/a.jsonl`, '{"text":"hello"}\n');
    await Deno.writeTextFile(`${tmp}/file`, "x");
    await Deno.mkdir(`${tmp}/foreign`);
    await Deno.writeTextFile(`${tmp}/foreign/notes.txt`, "mine");
    const base = ["--tokenizer", tokenizer, "--input", `${tmp}/a.jsonl`, "--out"];
    const cases: [string, RegExp][] = [
      [
        "/",
        /^error: --out \/: not empty and not a prepared dataset \(holds .*\); choose a new or empty directory$/,
      ],
      [`${tmp}/file`, /^error: --out .*\/file: exists and is not a directory$/],
      [`${tmp}/file/sub`, /^error: --out .*\/file\/sub: a part of the path is a file, not a directory$/],
      [
        `${tmp}/foreign`,
        /^error: --out .*foreign: not empty and not a prepared dataset \(holds notes\.txt\)/,
      ],
    ];
    for (const [out, pattern] of cases) {
      const r = await cli("prepare_cli.ts", [...base, out]);
      assert.equal(r.code, 2, r.stderr);
      oneLineError(r.stderr, pattern);
    }
    assert.deepEqual(ls(`${tmp}/foreign`), ["notes.txt"]);
    // corpus: --out a file, --workers x; both before anything is written.
    for (
      const [args, pattern] of [
        [["--out", `${tmp}/file`], /^error: --out .*\/file: exists and is not a directory$/],
        [
          ["--out", `${tmp}/c`, "--workers", "x"],
          /^error: --workers must be an integer from 0 to 256, got "x"$/,
        ],
        [
          ["--out", `${tmp}/c`, "--tokenizer", tokenizer, "--data-out", `${tmp}/file`],
          /^error: --data-out .*\/file: exists and is not a directory$/,
        ],
      ] as const
    ) {
      const r = await cli("corpus_cli.ts", [...args]);
      assert.equal(r.code, 2, r.stderr);
      oneLineError(r.stderr, pattern);
    }
    await absent(`${tmp}/c`);
  });
});

Deno.test("prepare: FIFOs and devices are never read; one in a directory is skipped and named", async () => {
  await withTemp(async (tmp, tokenizer) => {
    await Deno.mkdir(`${tmp}/in`);
    await Deno.writeTextFile(`${tmp}/in/a.jsonl`, '{"text":"hello"}\n');
    const mk = await new Deno.Command("mkfifo", { args: [`${tmp}/in/pipe.jsonl`] }).output();
    assert.equal(mk.code, 0);
    const s = await prepare({ tokenizer, inputs: [`${tmp}/in`], out: `${tmp}/o`, chunkSize: 16 });
    assert.equal(s.files, 1);
    assert.deepEqual(s.specialFiles, [`${tmp}/in/pipe.jsonl`]);
    await assert.rejects(
      () => prepare({ tokenizer, inputs: [`${tmp}/in/pipe.jsonl`], out: `${tmp}/o2`, chunkSize: 16 }),
      (e) => isUserError(e) && e.message === `--input ${tmp}/in/pipe.jsonl: a FIFO, not a regular file`,
    );
    await absent(`${tmp}/o2`);
    await assert.rejects(
      () => prepare({ tokenizer, inputs: ["/dev/zero"], out: `${tmp}/o3`, chunkSize: 16 }),
      (e) => isUserError(e) && e.message === "--input /dev/zero: a device, not a regular file",
    );
    await absent(`${tmp}/o3`);
  });
});

Deno.test("prepare: invalid UTF-8 lines are dropped and counted, the valid ones kept", async () => {
  await withTemp(async (tmp, tokenizer) => {
    const e = new TextEncoder();
    const bytes = new Uint8Array([
      ...e.encode('{"text":"one"}\n{"text":"t'),
      0xc3,
      0x28, // an invalid two-byte sequence
      ...e.encode('wo"}\n{"text":"three"}\n'),
    ]);
    await Deno.writeFile(`${tmp}/a.jsonl`, bytes);
    await Deno.writeFile(`${tmp}/b.txt`, new Uint8Array([0x61, 0xff, 0x62]));
    const s = await prepare({
      tokenizer,
      inputs: [`${tmp}/a.jsonl`, `${tmp}/b.txt`],
      out: `${tmp}/o`,
      chunkSize: 16,
    });
    assert.equal(s.records, 4);
    assert.equal(s.documents, 2);
    assert.equal(s.skipped.invalid_utf8, 2);
  });
});

Deno.test("prepare: one writer per --out; a staging directory left by a killed run is swept", async () => {
  await withTemp(async (tmp, tokenizer) => {
    await Deno.writeTextFile(`${tmp}/a.jsonl`, '{"text":"hello"}\n');
    const out = `${tmp}/o`;
    const lock = await lockRunDir(out);
    await assert.rejects(
      () => prepare({ tokenizer, inputs: [`${tmp}/a.jsonl`], out, chunkSize: 16 }),
      (e) =>
        isUserError(e) && /^--out .*\/o: in use by pid \d+ on .*; one writer per directory$/.test(e.message),
    );
    lock.release({ removeIfEmpty: false });
    // What a SIGKILLed run leaves: a staging directory of partial shards (and no manifest).
    await Deno.mkdir(`${out}/${STAGING_PREFIX}dead0000`);
    await Deno.writeFile(`${out}/${STAGING_PREFIX}dead0000/train_0000000000.bin`, new Uint8Array(100));
    await prepare({ tokenizer, inputs: [`${tmp}/a.jsonl`], out, chunkSize: 16 });
    assert.deepEqual(ls(out), [MANIFEST_FILE, "train_0000000000.bin"]); // swept, no lock left
  });
});

Deno.test("prepare CLI: SIGINT (delivered twice, as by deno task) says what happened, removes the partial output, exits 130", async () => {
  await withTemp(async (tmp) => {
    // One document of 30 MB: a worker is busy with it for seconds, and Ctrl-C must not wait for it.
    const line = JSON.stringify({ text: "The quick brown fox jumps over the lazy dog. ".repeat(700_000) }) +
      "\n";
    await Deno.writeTextFile(`${tmp}/big.jsonl`, line);
    const out = `${tmp}/o`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        `${ROOT}packages/data/prepare_cli.ts`,
        "--tokenizer",
        SPM,
        "--input",
        `${tmp}/big.jsonl`,
        "--out",
        out,
        "--workers",
        "1",
      ],
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    // Wait until the staging directory exists: prepare is then reading and tokenizing.
    const started = Date.now();
    while (Date.now() - started < 60_000) {
      const names = await Array.fromAsync(Deno.readDir(out)).catch(() => []);
      if (names.some((e) => e.name.startsWith(STAGING_PREFIX))) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300)); // into the tokenizing
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGINT"); // the same Ctrl-C, forwarded: not a request to stop without cleaning up
    const { code, stderr } = await child.output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 130, text);
    oneLineError(
      text,
      /^prepare: SIGINT: interrupted; removed the partial output, nothing was written to .*\/o$/,
    );
    await absent(out); // it created --out, and leaves nothing
  });
});

Deno.test("manifest: fields that feed loops and paths are validated like the shard headers", async () => {
  await withTemp(async (tmp, tokenizer) => {
    await Deno.writeTextFile(`${tmp}/a.jsonl`, '{"text":"hello"}\n');
    const out = `${tmp}/o`;
    await prepare({ tokenizer, inputs: [`${tmp}/a.jsonl`], out, chunkSize: 16 });
    const good = JSON.parse(await Deno.readTextFile(`${out}/${MANIFEST_FILE}`));
    const cases: [(m: typeof good) => void, RegExp][] = [
      [
        (m) => m.splits.train.paddingTokens = -5,
        /field "splits\.train\.paddingTokens" must be an integer from 0 to 16, got -5/,
      ],
      [(m) => m.splits.train.paddingTokens = 1e12, /paddingTokens" must be an integer from 0 to 16/],
      [(m) => m.splits.train.files = ["../../etc/x.bin"], /field "splits\.train\.files" must be shard names/],
      [(m) => m.splits.val.tokens = 1e300, /field "splits\.val\.tokens" must be an integer/],
      [(m) => m.chunkSize = "16", /field "chunkSize" must be an integer from 1/],
      [
        (m) => m.tokenizer.vocabSize = 1e10,
        /field "tokenizer\.vocabSize" must be an integer from 1 to 2147483648/,
      ],
      [(m) => m.padToken = 999, /field "padToken" must be an integer from 0 to 258/],
      [(m) => m.dtype = "float32", /field "dtype" must be "uint16" or "int32"/],
    ];
    for (const [edit, pattern] of cases) {
      const m = structuredClone(good);
      edit(m);
      await Deno.writeTextFile(`${out}/${MANIFEST_FILE}`, JSON.stringify(m));
      assert.throws(
        () => readManifest(out),
        (e) => isUserError(e) && pattern.test(e.message) && !e.message.includes("\n"),
      );
    }
    assert.ok(!ls(out).includes(LOCK_FILE));
  });
});
