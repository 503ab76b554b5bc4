import { UserError } from "./errors.ts";

/**
 * Writes a file atomically: the bytes go to a temporary name beside it, are fsynced, and the
 * temporary file is renamed over the target, so a reader (or a crash) sees the old file or the new one,
 * never half of one.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "@tinyllama-ts/cli";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.json`, new TextEncoder().encode("{}"));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < data.length) off += await f.write(data.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dirOf(path));
}

/** Fsyncs a directory so that a rename inside it survives a power cut (a no-op where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Directories cannot be opened for syncing on every platform; the rename is still atomic.
  }
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/**
 * Whether a path exists; errors other than "not found" (a permission problem, say) are thrown, not
 * read as "absent".
 *
 * @example
 * ```ts
 * import { exists } from "@tinyllama-ts/cli";
 * console.log(await exists("/")); // true
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Streams bytes into a temporary file beside `path`, fsyncs it and renames it over `path`: as
 * {@link writeFileAtomic}, without holding the whole file in memory. A missing or unwritable directory
 * is a {@link UserError}.
 *
 * @example
 * ```ts
 * import { writeAtomicStream } from "@tinyllama-ts/cli";
 * const path = `${await Deno.makeTempDir()}/big.bin`;
 * await writeAtomicStream(path, async (write) => {
 *   for (let i = 0; i < 4; i++) await write(new Uint8Array(1024).fill(i));
 * });
 * ```
 */
export async function writeAtomicStream(
  path: string,
  body: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      await body(async (bytes) => {
        let off = 0;
        while (off < bytes.length) off += await f.write(bytes.subarray(off));
      });
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotFound) {
      throw new UserError(`${path}: cannot write (${e.message})`);
    }
    throw e;
  }
  const slash = path.lastIndexOf("/");
  await fsyncDir(slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash));
}
