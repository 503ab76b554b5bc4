/**
 * One writer per run directory: a lock file inside it, held with an exclusive OS file lock (`flock`)
 * and holding the owner's pid, host and start time for messages. A second writer refuses in one line.
 * The OS drops the lock when its process ends however it ends (SIGKILL included), so a lock file left
 * behind is stale by construction and the next run takes it over: no pid guessing, no `/proc` (which
 * Deno opens only with `--allow-all`).
 *
 * @module
 */
import { oneLine, UserError } from "./errors.ts";

/** The lock file's name inside a locked directory. */
export const LOCK_FILE = ".lock";

/** What a lock file holds (snake_case JSON). */
export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Random, so that a release never removes a lock another process took over. */
  token: string;
}

/** A held lock; {@link RunDirLock.release} gives it up. */
export interface RunDirLock {
  /** The locked directory. */
  readonly dir: string;
  /** Whether taking the lock created the directory. */
  readonly created: boolean;
  /**
   * Removes the lock file (if it is still ours). With `removeIfEmpty` (default true) a directory the
   * lock created is removed too when nothing else was written into it, so a failed run leaves nothing.
   */
  release(opts?: { removeIfEmpty?: boolean }): void;
}

/** This machine's name (without `--allow-sys`, from `/proc`, else `/etc/hostname`). */
export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    for (const f of ["/proc/sys/kernel/hostname", "/etc/hostname"]) {
      try {
        const h = Deno.readTextFileSync(f).trim();
        if (h) return h;
      } catch {
        // next
      }
    }
    return "unknown-host";
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(Deno.readTextFileSync(path));
    if (Number.isSafeInteger(o?.pid) && typeof o?.host === "string") return o as LockOwner;
  } catch {
    // not written yet, or not ours
  }
  return undefined;
}

/**
 * Takes the lock of run directory `dir`, creating the directory (and its parents) if needed. Another
 * live writer is a {@link UserError} naming it; a lock file whose process is gone is taken over.
 * Released on {@link RunDirLock.release}, on exit through `Deno.exit`, and by the OS when the process
 * dies.
 *
 * @example
 * ```ts
 * import { lockRunDir } from "@tinyllama-ts/cli";
 * const dir = await Deno.makeTempDir();
 * const lock = await lockRunDir(`${dir}/run`, "--out");
 * lock.release(); // removes run/ again: nothing was written
 * ```
 */
export async function lockRunDir(dir: string, flag = "--out"): Promise<RunDirLock> {
  let created = false;
  try {
    await Deno.stat(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new UserError(`${flag} ${dir}: cannot access (${oneLine(e)})`);
    }
    try {
      await Deno.mkdir(dir, { recursive: true });
      created = true;
    } catch (e2) {
      throw new UserError(`${flag} ${dir}: cannot create (${oneLine(e2)})`);
    }
  }
  const path = `${dir}/${LOCK_FILE}`;
  const me: LockOwner = {
    pid: Deno.pid,
    host: hostName(),
    since: new Date().toISOString(),
    token: crypto.randomUUID(),
  };
  let file: Deno.FsFile;
  for (let attempt = 0;; attempt++) {
    try {
      file = Deno.openSync(path, { read: true, write: true, create: true });
    } catch (e) {
      throw new UserError(`${flag} ${dir}: cannot create the lock file (${oneLine(e)})`);
    }
    if (!file.tryLockSync(true)) {
      file.close();
      const owner = readOwner(path);
      const who = owner ? `pid ${owner.pid} on ${owner.host} since ${owner.since}` : "another process";
      throw new UserError(`${flag} ${dir}: in use by ${who}; one writer per directory`);
    }
    // A holder that released removed the file after we opened it: then we hold a lock on a file no
    // one else will open. Only a lock on the file now at `path` counts.
    let same = false;
    try {
      same = Deno.statSync(path).ino === file.statSync().ino;
    } catch {
      // removed meanwhile
    }
    if (same) break;
    file.close();
    if (attempt >= 10) {
      throw new UserError(`${flag} ${dir}: the lock file keeps changing; another run is starting`);
    }
  }
  file.truncateSync(0);
  file.writeSync(new TextEncoder().encode(JSON.stringify(me) + "\n"));
  let released = false;
  const release = (opts: { removeIfEmpty?: boolean } = {}) => {
    if (released) return;
    released = true;
    globalThis.removeEventListener("unload", onUnload);
    try {
      // Removed while still locked, so that no other process can lock this file after we let it go.
      if (readOwner(path)?.token === me.token) Deno.removeSync(path);
    } catch {
      // nothing to remove
    }
    file.close();
    if (created && (opts.removeIfEmpty ?? true)) {
      try {
        Deno.removeSync(dir); // only succeeds when empty
      } catch {
        // something was written: keep it
      }
    }
  };
  const onUnload = () => release({ removeIfEmpty: true });
  globalThis.addEventListener("unload", onUnload);
  return { dir, created, release };
}
