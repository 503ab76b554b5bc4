import assert from "node:assert/strict";
import { assertRejects } from "./_assert_rejects.ts";
import { BUNDLE_FILES } from "./bundle.ts";
import { TEST_TOKENIZER, testSources } from "./_test_corpus.ts";
import { serveWeb } from "./web_server.ts";
import { webMain } from "./web_cli.ts";
import { dashboardMain } from "./dashboard_cli.ts";
import { listen } from "./serve.ts";
import { UserError } from "@tinyllama-ts/cli";

Deno.test("web server: every asset with the cross-origin isolation headers; nothing else; no writes", async () => {
  const bundleDir = await Deno.makeTempDir({ prefix: "web-bundle-" });
  for (const f of BUNDLE_FILES) await Deno.writeTextFile(`${bundleDir}/${f}`, `/* ${f} */`);
  await Deno.writeTextFile(`${bundleDir}/secret.txt`, "secret");
  const corpus = { name: "test corpus", sources: testSources() };
  const server = serveWeb({ port: 0, bundleDir, tokenizer: TEST_TOKENIZER, corpus, log: () => {} });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    for (
      const path of [
        "/",
        "/style.css",
        "/data/tokenizer.model",
        "/data/corpus.json",
        ...BUNDLE_FILES.map((f) => `/${f}`),
      ]
    ) {
      const r = await fetch(base + path);
      const body = new Uint8Array(await r.arrayBuffer());
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get("cross-origin-opener-policy"), "same-origin", path);
      assert.equal(r.headers.get("cross-origin-embedder-policy"), "require-corp", path);
      assert.ok(body.length > 0, path);
      if (path.endsWith(".wasm")) assert.equal(r.headers.get("content-type"), "application/wasm");
    }
    assert.deepEqual(await (await fetch(`${base}/data/corpus.json`)).json(), corpus);
    for (const path of ["/secret.txt", "/data/", "/index.htm", "/run/x", "/%2e%2e/deno.json", "/app.js/x"]) {
      const r = await fetch(base + path);
      await r.body?.cancel();
      assert.equal(r.status, 404, path);
    }
    const post = await fetch(`${base}/app.js`, { method: "POST", body: "x" });
    await post.body?.cancel();
    assert.equal(post.status, 405);
  } finally {
    await server.shutdown();
    await Deno.remove(bundleDir, { recursive: true });
  }
});

Deno.test("web and dashboard CLIs: bad flags and missing inputs are one-line errors", async () => {
  await assertRejects(() => webMain(["--nope", "1"]), /unknown flag --nope/);
  await assertRejects(() => webMain(["--port", "x"]), /--port x/);
  await assertRejects(() => webMain(["--bundle", "/nonexistent-dir"]), /no bundle/);
  await assertRejects(() => dashboardMain([]), /usage: deno task dashboard --run DIR/);
  await assertRejects(() => dashboardMain(["--run", "/nonexistent-run"]), /no such directory/);
});

Deno.test("servers: binding anything but loopback is warned about", async () => {
  const lines: string[] = [];
  let server: Deno.HttpServer | null = null;
  try {
    server = listen({ host: "0.0.0.0", port: 0, log: (s) => lines.push(s) }, () => new Response("x"));
  } catch (e) {
    // The tests may listen on 127.0.0.1 only: then binding is refused, after the warning.
    assert.ok(e instanceof UserError, String(e));
  } finally {
    await server?.shutdown();
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^warning: serving on 0\.0\.0\.0/);
  const quiet: string[] = [];
  const local = listen({ port: 0, log: (s) => quiet.push(s) }, () => new Response("x"));
  assert.equal(local.addr.hostname, "127.0.0.1");
  await local.shutdown();
  assert.deepEqual(quiet, []);
});
