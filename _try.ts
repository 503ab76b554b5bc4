import { Chromium, findChromium } from "./packages/web/_chromium.ts";
import { serveWeb } from "./packages/web/web_server.ts";
import { TEST_TOKENIZER, testSources } from "./packages/web/_test_corpus.ts";
const server = serveWeb({ port: 0, bundleDir: "/tmp/webb", tokenizer: TEST_TOKENIZER, corpus: { name: "test", sources: testSources() } });
const chrome = await Chromium.launch((await findChromium())!);
const page = await chrome.open(`http://127.0.0.1:${server.addr.port}/?backend=${Deno.args[0] ?? "wasm"}&steps=6&micro=4&seq=64&seed=7&autostart=1`);
try {
  await page.waitFor("globalThis.tinyllama?.state.done || globalThis.tinyllama?.state.error", 120000);
  console.log(await page.evaluate("JSON.stringify({...tinyllama.state, steps: tinyllama.state.steps.map(s=>[s.loss, s.tokens_per_sec])})"));
  console.log(await page.evaluate("crossOriginIsolated"));
  console.log(await page.evaluate("tinyllama.sample('the people')"));
  await Deno.writeFile("/tmp/shot.png", await page.screenshot());
} finally { await chrome.close(); await server.shutdown(); }
