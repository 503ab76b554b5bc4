import assert from "node:assert/strict";
import { writeFileAtomic } from "./atomic.ts";

Deno.test("writeFileAtomic writes the bytes and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/x.bin`;
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    await writeFileAtomic(path, new Uint8Array([4, 5]));
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([4, 5]));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, ["x.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic into a missing directory fails without leaving anything", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(() => writeFileAtomic(`${dir}/missing/x.bin`, new Uint8Array([1])));
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
