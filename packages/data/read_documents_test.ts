import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { gzipSync } from "fflate";
import { inputFormatOf, listInputFiles } from "./input_files.ts";
import { type DocumentItem, PIECE_BYTES, readDocuments, readPieces } from "./read_documents.ts";

const INPUTS = new URL("../../tests/fixtures/data/inputs/", import.meta.url).pathname.replace(/\/$/, "");
const EXPECTED: Record<string, DocumentItem[]> = JSON.parse(
  Deno.readTextFileSync(new URL("../../tests/fixtures/data/expected_documents.json", import.meta.url)),
);

async function readAll(path: string): Promise<DocumentItem[]> {
  const format = inputFormatOf(path)!;
  const items: DocumentItem[] = [];
  for await (const item of readDocuments({ path, format, bytes: 0 })) items.push(item);
  return items;
}

for (const [rel, expected] of Object.entries(EXPECTED)) {
  Deno.test(`readDocuments: ${rel} gives what Python reads`, async () => {
    let bytes = 0;
    const path = `${INPUTS}/${rel}`;
    const items: DocumentItem[] = [];
    for await (
      const item of readDocuments({ path, format: inputFormatOf(path)!, bytes: 0 }, (n) => bytes += n)
    ) {
      items.push(item);
    }
    assert.deepEqual(items, expected);
    assert.ok(bytes > 0 && bytes <= (await Deno.stat(path)).size);
  });
}

Deno.test("readDocuments: every skip reason is represented in the fixtures", () => {
  const reasons = new Set(EXPECTED["docs.jsonl"].flatMap((i) => "skip" in i ? [i.skip] : []));
  assert.deepEqual([...reasons].sort(), ["blank_line", "empty", "invalid_json", "missing_field"]);
});

Deno.test("readDocuments: a long gzip stream without a final newline, and multi-member gzip", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = Array.from(
      { length: 30000 },
      (_, i) => JSON.stringify({ text: `doc ${i} ${"é".repeat(i % 97)}` }),
    );
    await Deno.writeFile(`${dir}/big.jsonl.gz`, gzipSync(new TextEncoder().encode(lines.join("\n")))); // no final newline
    const items = await readAll(`${dir}/big.jsonl.gz`);
    assert.equal(items.length, 30000);
    assert.deepEqual(items[29999], { text: `doc 29999 ${"é".repeat(29999 % 97)}` });
    // Two gzip members back to back (as `cat a.gz b.gz` makes) are one stream.
    const two = new Uint8Array([
      ...gzipSync(new TextEncoder().encode('{"text":"a"}\n')),
      ...gzipSync(new TextEncoder().encode('{"text":"b"}\n')),
    ]);
    await Deno.writeFile(`${dir}/two.jsonl.gz`, two);
    assert.deepEqual(await readAll(`${dir}/two.jsonl.gz`), [{ text: "a" }, { text: "b" }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// What reading a whole stream at once gives: the bytes cut at "\n" (a leading BOM dropped), each line
// decoded strictly on its own (invalid UTF-8: skipped as such), the text after the last "\n" a line
// unless empty or "\r". Lines here are documents or blank, so the JSON side stays trivial.
function wholeStreamItems(bytes: Uint8Array): DocumentItem[] {
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const raw: Uint8Array[] = [];
  for (let at = start;;) {
    const nl = bytes.indexOf(0x0a, at);
    raw.push(bytes.subarray(at, nl < 0 ? bytes.length : nl));
    if (nl < 0) break;
    at = nl + 1;
  }
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lines = raw.map((b) => {
    try {
      return decoder.decode(b);
    } catch {
      return undefined;
    }
  });
  const rest = lines.pop()!;
  if (rest !== "" && rest !== "\r") lines.push(rest);
  return lines.map((l): DocumentItem =>
    l === undefined
      ? { skip: "invalid_utf8" }
      : l.trim() === ""
      ? { skip: "blank_line" }
      : { text: JSON.parse(l).text }
  );
}

Deno.test("readDocuments: cutting into pieces changes nothing (BOM, long lines, CRLF, bad UTF-8, no final newline)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const enc = new TextEncoder();
    const parts: Uint8Array[] = [new Uint8Array([0xef, 0xbb, 0xbf])]; // a BOM, dropped
    let seed = 7;
    const rand = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
    for (let i = 0; i < 400; i++) {
      // Lengths around and above PIECE_BYTES (and READ_CHUNK), so cuts fall everywhere.
      const len = i % 97 === 5 ? 3 * PIECE_BYTES + rand(1000) : rand(i % 7 === 0 ? PIECE_BYTES : 3000);
      const body = 'aé€😀 \\"\ufeff'.repeat(Math.ceil(len / 10)).slice(0, len);
      const line = enc.encode(JSON.stringify({ text: `${i} ${body}` }));
      const badUtf8 = i % 11 === 3; // a truncated 3-byte sequence inside the string: the line is dropped
      parts.push(
        badUtf8 ? new Uint8Array([...line.subarray(0, -2), 0xe2, 0x82, ...line.subarray(-2)]) : line,
      );
      if (i % 13 === 0) parts.push(new Uint8Array([0x0d])); // CRLF
      parts.push(new Uint8Array([0x0a]));
      if (i % 17 === 0) parts.push(enc.encode("\ufeff \n")); // a BOM later on is text: a blank line
    }
    parts.push(enc.encode('{"text":"last, no newline"}'));
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
    const expected = wholeStreamItems(bytes);
    assert.ok(expected.length > 420 && expected.some((d) => "skip" in d && d.skip === "invalid_utf8"));
    await Deno.writeFile(`${dir}/a.jsonl`, bytes);
    await Deno.writeFile(`${dir}/a.jsonl.gz`, gzipSync(bytes));
    for (const name of ["a.jsonl", "a.jsonl.gz"]) {
      assert.deepEqual(await readAll(`${dir}/${name}`), expected, name);
      let pieces = 0;
      for await (const _ of readPieces({ path: `${dir}/${name}`, format: inputFormatOf(name)!, bytes: 0 })) {
        pieces++;
      }
      assert.ok(pieces > 10, `${name}: ${pieces} pieces`);
    }
    // The tail rule: a final "\r" is no line, and neither is a file of only a BOM.
    for (
      const [text, items] of [["\ufeff", []], ['{"text":"a"}\n\r', [{ text: "a" }]], ["\r", []]] as const
    ) {
      await Deno.writeFile(`${dir}/t.jsonl`, enc.encode(text));
      assert.deepEqual(await readAll(`${dir}/t.jsonl`), items, JSON.stringify(text));
      assert.deepEqual(wholeStreamItems(enc.encode(text)), items);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDocuments: corrupt or truncated gzip, zstd and parquet are one-line errors naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
      ["docs.jsonl.gz", (b) => b.subarray(0, b.length - 20), /corrupt gzip data/],
      ["docs.jsonl.gz", (b) => Uint8Array.from(b, (x, i) => i === 0 ? 0 : x), /corrupt gzip data/],
      [
        "docs.jsonl.gz",
        (b) => Uint8Array.from(b, (x, i) => i > 20 && i < 60 ? x ^ 0x5a : x),
        /corrupt gzip data/,
      ],
      ["nested/docs.jsonl.zst", (b) => b.subarray(0, b.length - 30), /corrupt zstd data/],
      ["nested/docs.jsonl.zst", (b) => Uint8Array.from(b, (x, i) => i < 4 ? 0 : x), /corrupt zstd data/],
      ["code.parquet", (b) => b.subarray(0, b.length - 100), /corrupt parquet/],
      ["code.parquet", (b) => Uint8Array.from(b, (x, i) => i > 4 && i < 300 ? 0xee : x), /corrupt parquet/],
      ["docs.jsonl.gz", () => new Uint8Array(0), /empty file, not gzip data/],
    ];
    for (const [i, [rel, corrupt, pattern]] of cases.entries()) {
      const name = `${dir}/bad${i}.${rel.split("/").pop()!.split(".").slice(1).join(".")}`;
      await Deno.writeFile(name, corrupt(await Deno.readFile(`${INPUTS}/${rel}`)));
      await assert.rejects(() => readAll(name), (e) => {
        const msg = (e as Error).message;
        return isUserError(e) && msg.startsWith(`${name}: `) && pattern.test(msg) && !msg.includes("\n");
      }, `${rel} case ${i}`);
    }
    await assert.rejects(
      () => readAll(`${dir}/missing.jsonl`),
      (e) => isUserError(e) && /missing\.jsonl: cannot read/.test((e as Error).message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("listInputFiles: directories recursively in sorted order, other extensions ignored", async () => {
  const { files, ignored } = await listInputFiles([INPUTS]);
  assert.deepEqual(files.map((f) => f.path.slice(INPUTS.length + 1)), [
    "code.parquet",
    "docs.jsonl",
    "docs.jsonl.gz",
    "nested/doc.txt",
    "nested/docs.jsonl.zst",
    "nested/text_zstd.parquet",
  ]);
  assert.deepEqual(files.map((f) => f.format), [
    "parquet",
    "jsonl",
    "jsonl.gz",
    "txt",
    "jsonl.zst",
    "parquet",
  ]);
  assert.deepEqual(ignored.map((p) => p.slice(INPUTS.length + 1)), ["nested/README.md"]);
  const missing = `${INPUTS}/nope`;
  await assert.rejects(
    () => listInputFiles([missing]),
    (e) => isUserError(e) && (e as Error).message === `--input ${missing}: no such file or directory`,
  );
  await assert.rejects(() => listInputFiles([`${INPUTS}/nested/README.md`]), /unsupported file type/);
  await assert.rejects(() => listInputFiles([]), /no --input/);
});
