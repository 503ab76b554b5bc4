import assert from "node:assert/strict";
import { isUserError } from "./errors.ts";
import { checkInputFile, readLines } from "./input.ts";

async function lines(chunks: Uint8Array[]) {
  const out: [string, number][] = [];
  for await (const l of readLines(ReadableStream.from(chunks), "x.jsonl")) out.push(l);
  return out;
}

Deno.test("readLines: lines across chunks, CRLF, a BOM, no final newline", async () => {
  const e = new TextEncoder();
  assert.deepEqual(await lines([e.encode("\ufeffab"), e.encode("c\r\nd"), e.encode("\n\nlast")]), [
    ["abc", 1],
    ["d", 2],
    ["", 3],
    ["last", 4],
  ]);
});

Deno.test("readLines: invalid UTF-8 is reported on its own line, even deep inside one chunk", async () => {
  const e = new TextEncoder();
  const bad = new Uint8Array([...e.encode("a\nb\nc"), 0xff, ...e.encode("\nd\n")]);
  await assert.rejects(
    () => lines([bad]),
    (err) => isUserError(err) && err.message === "x.jsonl:3: not valid UTF-8",
  );
});

Deno.test("readLines: one long line in many chunks is joined once (linear)", async () => {
  const chunk = new Uint8Array(1 << 16).fill(0x61);
  const chunks = Array.from({ length: 512 }, () => chunk); // 32 MiB, one line
  const out = await lines(chunks);
  assert.equal(out.length, 1);
  assert.equal(out[0][0].length, 512 << 16);
});

Deno.test("checkInputFile: regular files only; a FIFO or a directory is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "hi");
    assert.equal((await checkInputFile("--input", `${dir}/a.txt`)).size, 2);
    const mk = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    assert.equal(mk.code, 0);
    await assert.rejects(
      () => checkInputFile("--jsonl", `${dir}/fifo`),
      (e) => isUserError(e) && e.message === `--jsonl ${dir}/fifo: a FIFO, not a regular file`,
    );
    await assert.rejects(
      () => checkInputFile("--jsonl", dir),
      (e) => isUserError(e) && /is a directory/.test(e.message),
    );
    await assert.rejects(
      () => checkInputFile("--jsonl", `${dir}/none`),
      (e) => isUserError(e) && /no such file/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
