import assert from "node:assert/strict";
import { isUserError } from "@tinyllama-ts/cli";
import { FIXTURES } from "./_testing.ts";
import { loadTokenizer, parseTokenizerBytes } from "./load.ts";

const TINY = `${FIXTURES}tiny.model`;
const JSON_TOKENIZER = JSON.stringify({
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
});

Deno.test("loadTokenizer reads a file or a directory, tokenizer.model before tokenizer.json", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON_TOKENIZER);
  assert.equal((await loadTokenizer(dir)).vocabSize, 4);
  assert.equal((await loadTokenizer(`${dir}/`)).vocabSize, 4);
  await Deno.copyFile(TINY, `${dir}/tokenizer.model`);
  assert.equal((await loadTokenizer(dir)).vocabSize, 512);
  assert.equal((await loadTokenizer(`${dir}/tokenizer.json`)).vocabSize, 4);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the format comes from the content, not the name", () => {
  const json = new TextEncoder().encode("\n  " + JSON_TOKENIZER);
  assert.deepEqual(parseTokenizerBytes(json, "weird.model").encode("a"), [3]);
});

Deno.test("missing, empty and unreadable inputs are one-line user errors naming the path", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/empty.model`, new Uint8Array());
  const cases: [string, RegExp][] = [
    [`${dir}/nothing`, /nothing: no such file or directory$/],
    [`${dir}/empty.model`, /empty\.model: empty file, not a tokenizer$/],
    [dir, /: directory holds neither tokenizer\.model nor tokenizer\.json$/],
  ];
  for (const [path, re] of cases) {
    await assert.rejects(
      loadTokenizer(path),
      (e: unknown) => isUserError(e) && re.test((e as Error).message),
    );
  }
  assert.throws(
    () => parseTokenizerBytes(new Uint8Array([0x7b, 0xff, 0xfe]), "x.json"),
    (e: unknown) =>
      isUserError(e) && /x\.json: starts like JSON but is not valid UTF-8/.test((e as Error).message),
  );
  await Deno.remove(dir, { recursive: true });
});
