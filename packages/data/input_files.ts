import { oneLine, specialKind, UserError } from "@tinyllama-ts/cli";

/** A corpus file format that prepare reads. */
export type InputFormat = "txt" | "jsonl" | "jsonl.gz" | "jsonl.zst" | "parquet";

/** An input file found by {@link listInputFiles}. */
export interface InputFile {
  path: string;
  format: InputFormat;
  /** Size on disk (compressed size for compressed files). */
  bytes: number;
}

const SUFFIXES: [string, InputFormat][] = [
  [".jsonl.gz", "jsonl.gz"],
  [".jsonl.zst", "jsonl.zst"],
  [".jsonl", "jsonl"],
  [".parquet", "parquet"],
  [".txt", "txt"],
];

/**
 * The format a file name says, or undefined for a name prepare does not read.
 *
 * @example
 * ```ts
 * import { inputFormatOf } from "@tinyllama-ts/data";
 * console.log(inputFormatOf("chunk1/example_train_0.jsonl.zst")); // "jsonl.zst"
 * ```
 */
export function inputFormatOf(path: string): InputFormat | undefined {
  const lower = path.toLowerCase();
  return SUFFIXES.find(([s]) => lower.endsWith(s))?.[1];
}

/**
 * Expands `--input` paths into the files to read: a file is taken as it is (and must have a known
 * extension), a directory is walked recursively in sorted order, keeping the files with a known
 * extension (the others are counted in `ignored`). Only regular files are read: a FIFO, device or
 * socket inside a directory is listed in `special` (reading one could block forever), and one given
 * explicitly is a {@link UserError}, as is a missing path.
 *
 * @example
 * ```ts
 * import { listInputFiles } from "@tinyllama-ts/data";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * console.log((await listInputFiles([dir])).files.length); // 1
 * ```
 */
export async function listInputFiles(
  paths: readonly string[],
): Promise<{ files: InputFile[]; ignored: string[]; special: string[] }> {
  if (paths.length === 0) throw new UserError("no --input given");
  const files: InputFile[] = [];
  const ignored: string[] = [];
  const special: string[] = [];
  const visit = async (path: string, explicit: boolean): Promise<void> => {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new UserError(`--input ${path}: no such file or directory`);
      }
      throw new UserError(`--input ${path}: cannot read (${oneLine(e)})`);
    }
    if (info.isDirectory) {
      let names: string[];
      try {
        names = [];
        for await (const e of Deno.readDir(path)) names.push(e.name);
      } catch (e) {
        throw new UserError(`--input ${path}: cannot read directory (${oneLine(e)})`);
      }
      for (const name of names.sort()) {
        if (name.startsWith(".")) continue;
        await visit(`${path.replace(/\/+$/, "")}/${name}`, false);
      }
      return;
    }
    if (!info.isFile) {
      if (explicit) throw new UserError(`--input ${path}: ${specialKind(info)}, not a regular file`);
      special.push(path);
      return;
    }
    const format = inputFormatOf(path);
    if (format === undefined) {
      if (explicit) {
        throw new UserError(
          `--input ${path}: unsupported file type (expected .txt, .jsonl, .jsonl.gz, .jsonl.zst, .parquet)`,
        );
      }
      ignored.push(path);
      return;
    }
    files.push({ path, format, bytes: info.size });
  };
  for (const p of paths) await visit(p, true);
  return { files, ignored, special };
}
