// bench/gpu/run.sh end to end in --smoke mode, prepare-free (the Deno running this test and the
// sources): the adapter line, the correctness checks, a JSON line per figure, the log and the Markdown
// section in the results folder. And, with no adapter needed, the carried cache's manifest check that
// runs before anything else. Skipped visibly without an adapter unless TINYLLAMA_REQUIRE_WEBGPU=1.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { optIn } from "@tinyllama-ts/cli";
import { describeAdapter } from "./adapter.ts";
import { mergeJsonLines } from "./report.ts";

const runSh = fileURLToPath(new URL("./run.sh", import.meta.url));
const adapter = await describeAdapter();
const required = optIn("TINYLLAMA_REQUIRE_WEBGPU");
if (!adapter && !required) console.warn("bench/gpu/run.sh --smoke test skipped: no WebGPU adapter");

/** Runs run.sh with `args`, the Deno running this test first on PATH. */
async function runScript(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const path = `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`;
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: [runSh, ...args],
    env: { PATH: path, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

Deno.test({
  name: "bench/gpu/run.sh --smoke: adapter, checks, figures as JSON lines, log and section in --out",
  ignore: !adapter && !required,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = join(dir, "results");
      const { code, output } = await runScript(["--smoke", "--out", out, "--cache", join(dir, "no-cache")]);
      assert.equal(code, 0, output);
      assert.ok(output.startsWith(`results: ${out}\n`), "the results folder is printed first");
      const lines = (await Deno.readTextFile(join(out, "webgpu.jsonl"))).trim().split("\n");
      const first = JSON.parse(lines[0]).adapter_report;
      assert.ok(first.name && first.limits.maxStorageBufferBindingSize > 0, "adapter and limits first");
      assert.ok(Array.isArray(first.features) && typeof first.subgroups === "boolean");
      const gpu = await mergeJsonLines(join(out, "webgpu.jsonl"));
      const checks = Object.values(gpu.checks as Record<string, { ok: boolean; name: string }>);
      assert.ok(checks.length >= 9, `${checks.length} checks`);
      for (const c of checks) assert.ok(c.ok, `check ${c.name} failed`);
      const train = gpu.train as Record<string, number>;
      assert.ok(train.tokens_per_sec > 0 && train.dispatches_per_step > 0 && train.submits_per_step > 0);
      assert.ok(train.blocking_reads_per_step >= 1, "the loss is read back");
      const log = await Deno.readTextFile(join(out, "run.log"));
      assert.match(log, /== WebGPU \(WGSL\) ==/);
      assert.match(await Deno.readTextFile(join(out, "RESULTS-section.md")), /all \d+ checks passed/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("bench/gpu/run.sh: an incomplete or changed prepared cache is a one-line error naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cache = join(dir, "cache");
    await Deno.mkdir(cache);
    await Deno.writeTextFile(join(cache, "bench.js"), "// bundle\n");
    const hash = async (text: string) =>
      Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))))
        .map((b) => b.toString(16).padStart(2, "0")).join("");
    await Deno.writeTextFile(
      join(cache, "MANIFEST.sha256"),
      `${await hash("// bundle\n")}  bench.js\n${await hash("x")}  deno.xz\n`,
    );
    const missing = await runScript(["--smoke", "--out", join(dir, "a"), "--cache", cache]);
    assert.equal(missing.code, 2, missing.output);
    assert.match(missing.output, /^error: the prepared cache lacks deno\.xz: .*$/m);
    await Deno.writeTextFile(join(cache, "deno.xz"), "y");
    const changed = await runScript(["--smoke", "--out", join(dir, "b"), "--cache", cache]);
    assert.equal(changed.code, 2, changed.output);
    assert.match(
      changed.output,
      /^error: deno\.xz in the prepared cache differs from prepare\.sh's manifest/m,
    );
    assert.doesNotMatch(changed.output, /== adapter ==/, "nothing runs after a failed check");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "bench/gpu/run.sh: without an adapter it prints the Vulkan loader's own errors, and still reports",
  ignore: !adapter && !required,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = join(dir, "results");
      // Vulkan only, with a driver manifest that does not exist: no adapter.
      const { code, output } = await runScript(
        ["--smoke", "--out", out, "--cache", join(dir, "no-cache")],
        { DENO_WEBGPU_BACKEND: "vulkan", VK_DRIVER_FILES: join(dir, "missing_icd.json") },
      );
      assert.equal(code, 1, output);
      assert.match(output, /no WebGPU adapter: the Vulkan loader says \(VK_LOADER_DEBUG=error,warn\):/);
      assert.match(await Deno.readTextFile(join(out, "vulkan-loader.log")), /missing_icd\.json/);
      assert.match(await Deno.readTextFile(join(out, "RESULTS-section.md")), /--smoke mode/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
