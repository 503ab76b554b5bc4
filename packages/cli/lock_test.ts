import assert from "node:assert/strict";
import { isUserError } from "./errors.ts";
import { hostName, LOCK_FILE, lockRunDir } from "./lock.ts";

const holder = new URL("./_testdata/hold_lock.ts", import.meta.url).pathname;

Deno.test("lockRunDir: one writer; the second refuses in one line; release removes what it created", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = await lockRunDir(`${dir}/run`);
    assert.equal(lock.created, true);
    const owner = JSON.parse(await Deno.readTextFile(`${dir}/run/${LOCK_FILE}`));
    assert.equal(owner.pid, Deno.pid);
    assert.equal(owner.host, hostName());
    await assert.rejects(
      () => lockRunDir(`${dir}/run`),
      (e) =>
        isUserError(e) && /^--out .*run: in use by pid \d+ on /.test(e.message) && !e.message.includes("\n"),
    );
    lock.release();
    assert.deepEqual([...Deno.readDirSync(dir)], []); // created, nothing written: removed
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockRunDir: a live process's lock refuses; after it is killed the stale lock is taken over", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--allow-read", "--allow-write", holder, dir],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /locked/);
    reader.releaseLock();
    await assert.rejects(
      () => lockRunDir(dir),
      (e) => isUserError(e) && e.message.includes(`pid ${child.pid}`),
    );
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    const lock = await lockRunDir(dir); // stale: its process is gone
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`)).pid, Deno.pid);
    lock.release();
    assert.deepEqual([...Deno.readDirSync(dir)], []); // the directory existed before: kept, lock removed
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.stdin.close().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lockRunDir: a lock file nobody holds (left by a crash) is taken over", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const owner = { pid: 1, host: hostName(), since: "2026-01-01T00:00:00Z", token: "t" };
    await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, JSON.stringify(owner));
    const lock = await lockRunDir(dir);
    assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`)).pid, Deno.pid);
    lock.release();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
