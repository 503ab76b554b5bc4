/**
 * Output paths, checked before the work starts: the one place every CLI asks whether it may write a
 * file or fill a directory. A file must have an existing directory as parent and must not be a
 * directory; a directory must be new, empty, or recognisably ours. Errors are one-line
 * {@link UserError}s naming the flag and the path.
 *
 * @module
 */
import { oneLine, UserError } from "./errors.ts";
import { LOCK_FILE } from "./lock.ts";

/** `Deno.stat`, or undefined when the path does not exist; a path under a file is named as such. */
async function statOrUndefined(path: string, flag: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    if (e instanceof Deno.errors.NotADirectory) {
      throw new UserError(`${flag} ${path}: a part of the path is a file, not a directory`);
    }
    throw new UserError(`${flag} ${path}: cannot access (${oneLine(e)})`);
  }
}

/** The directory part of a path (`.` for a bare name, `/` for a top-level one). */
export function parentOf(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : trimmed.slice(0, i);
}

/**
 * Checks that `path` can be written as a file: it is absent or a file (not a directory or a special
 * file), and its parent exists and is a directory.
 *
 * @example
 * ```ts
 * import { checkOutputFile } from "@tinyllama-ts/cli";
 * const dir = await Deno.makeTempDir();
 * await checkOutputFile("--log-samples", `${dir}/samples.jsonl`); // fine
 * ```
 */
export async function checkOutputFile(flag: string, path: string): Promise<void> {
  if (path === "") throw new UserError(`${flag} needs a file name`);
  const info = await statOrUndefined(path, flag);
  if (info !== undefined) {
    if (info.isDirectory) throw new UserError(`${flag} ${path}: is a directory, not a file`);
    if (!info.isFile) throw new UserError(`${flag} ${path}: is not a regular file`);
    return;
  }
  const parent = parentOf(path);
  const p = await statOrUndefined(parent, flag);
  if (p === undefined) throw new UserError(`${flag} ${path}: the directory ${parent} does not exist`);
  if (!p.isDirectory) throw new UserError(`${flag} ${path}: ${parent} is not a directory`);
}

/** Options of {@link checkOutputDir}. */
export interface OutputDirOptions {
  /**
   * Decides about a non-empty directory from its entry names (the lock file left out): return
   * `true` to accept it as ours, or a reason (a string) to refuse it. Default: refuse.
   */
  ours?: (names: string[]) => true | string;
}

/**
 * Checks that `path` may become (or already is) an output directory, creating nothing: it is absent
 * (its nearest existing ancestor a directory), empty, or accepted by `opts.ours`. Returns whether it
 * exists. `--out /` or a directory of unrelated files is refused before any work.
 *
 * @example
 * ```ts
 * import { checkOutputDir } from "@tinyllama-ts/cli";
 * const dir = await Deno.makeTempDir();
 * console.log(await checkOutputDir("--out", `${dir}/new/run`)); // false
 * ```
 */
export async function checkOutputDir(
  flag: string,
  path: string,
  opts: OutputDirOptions = {},
): Promise<boolean> {
  if (path === "") throw new UserError(`${flag} needs a directory`);
  const info = await statOrUndefined(path, flag);
  if (info === undefined) {
    // Parents may be created, but not through a file.
    let up = parentOf(path);
    while (true) {
      const p = await statOrUndefined(up, flag);
      if (p !== undefined) {
        if (!p.isDirectory) throw new UserError(`${flag} ${path}: ${up} is a file, not a directory`);
        return false;
      }
      const next = parentOf(up);
      if (next === up) return false;
      up = next;
    }
  }
  if (!info.isDirectory) throw new UserError(`${flag} ${path}: exists and is not a directory`);
  let names: string[];
  try {
    names = [];
    for await (const e of Deno.readDir(path)) if (e.name !== LOCK_FILE) names.push(e.name);
  } catch (e) {
    throw new UserError(`${flag} ${path}: cannot read the directory (${oneLine(e)})`);
  }
  if (names.length === 0) return true;
  const verdict = opts.ours?.(names.sort()) ??
    `not empty (holds ${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""})`;
  if (verdict !== true) throw new UserError(`${flag} ${path}: ${verdict}; choose a new or empty directory`);
  return true;
}
