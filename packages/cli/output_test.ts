import assert from "node:assert/strict";
import { isUserError } from "./errors.ts";
import { checkOutputDir, checkOutputFile } from "./output.ts";

async function refuses(f: () => Promise<unknown>, message: RegExp) {
  await assert.rejects(f, (e) => isUserError(e) && message.test(e.message) && !e.message.includes("\n"));
}

Deno.test("checkOutputFile: a file, under a file, a missing parent, a directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "x");
    await checkOutputFile("--log-samples", `${dir}/new.jsonl`);
    await checkOutputFile("--log-samples", `${dir}/f`); // replaced atomically later
    await refuses(() => checkOutputFile("--log-samples", dir), /is a directory, not a file$/);
    await refuses(
      () => checkOutputFile("--log-samples", `${dir}/f/x.jsonl`),
      /a part of the path is a file, not a directory$/,
    );
    await refuses(() => checkOutputFile("--log-samples", `${dir}/no/x.jsonl`), /no does not exist$/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkOutputDir: new, empty or ours; a file, under a file, or foreign refused; nothing created", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "x");
    assert.equal(await checkOutputDir("--out", `${dir}/a/b/c`), false);
    await Deno.mkdir(`${dir}/empty`);
    await Deno.writeTextFile(`${dir}/empty/.lock`, "{}");
    assert.equal(await checkOutputDir("--out", `${dir}/empty`), true);
    await refuses(() => checkOutputDir("--out", `${dir}/f`), /exists and is not a directory$/);
    await refuses(() => checkOutputDir("--out", `${dir}/f/run`), /is a file, not a directory$/);
    await refuses(() => checkOutputDir("--out", `${dir}/f/run/deeper`), /is a file, not a directory$/);
    await refuses(
      () => checkOutputDir("--out", "/"),
      /^--out \/: not empty \(holds .*\); choose a new or empty directory$/,
    );
    const ours = (names: string[]) => names.every((n) => n.endsWith(".bin")) || `holds ${names[0]}`;
    await Deno.writeTextFile(`${dir}/empty/a.bin`, "");
    assert.equal(await checkOutputDir("--out", `${dir}/empty`, { ours }), true);
    await Deno.writeTextFile(`${dir}/empty/b.txt`, "");
    await refuses(() => checkOutputDir("--out", `${dir}/empty`, { ours }), /holds a.bin/);
    assert.equal(await Deno.stat(`${dir}/a`).catch(() => null), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
