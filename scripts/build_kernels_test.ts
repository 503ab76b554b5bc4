// The embedded kernels must be exactly what `deno task build:kernels` generates from kernels/*.wgsl.
import assert from "node:assert/strict";
import { OUTPUT_FILE, readKernelSources, renderKernelsModule } from "./build_kernels.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test("build_kernels: packages/backend-webgpu/_kernels.ts is up to date with kernels/*.wgsl", async () => {
  const sources = await readKernelSources(`${root}kernels`);
  assert.ok(sources.length > 0, "no kernels/*.wgsl found");
  const want = renderKernelsModule(sources);
  const have = await Deno.readTextFile(`${root}${OUTPUT_FILE}`);
  assert.ok(have === want, `${OUTPUT_FILE} is stale: run \`deno task build:kernels\``);
});

Deno.test("build_kernels: output is independent of file order and line endings, and escapes template syntax", () => {
  const a = { name: "a", source: "x `y` ${z} \\n\r\nend\n" }, b = { name: "b", source: "fn f() {}\n" };
  const text = renderKernelsModule([b, a]);
  assert.equal(text, renderKernelsModule([a, { ...b, source: "fn f() {}\r\n" }]));
  const module = text.replace(/^export type.*$/m, "").replace(/^export /gm, "").replace(" as const;", ";");
  const sources = new Function(`${module}; return WGSL_SOURCES;`)() as Record<string, string>;
  assert.equal(sources.a, "x `y` ${z} \\n\nend\n");
  assert.ok(text.indexOf("  a: `") < text.indexOf("  b: `"));
  assert.throws(() => renderKernelsModule([{ name: "Bad-Name", source: "" }]));
});
