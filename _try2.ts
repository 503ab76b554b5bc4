import { Chromium, findChromium } from "./packages/web/_chromium.ts";
const chrome = await Chromium.launch((await findChromium())!);
const t0 = performance.now();
const page = await chrome.open(`http://127.0.0.1:8499/?backend=${Deno.args[0]}&steps=30&autostart=1`);
try {
  await page.waitFor("globalThis.tinyllama?.state.backend", 120000);
  console.log("ready after", (performance.now()-t0)/1000);
  await page.waitFor("globalThis.tinyllama?.state.done || globalThis.tinyllama?.state.error", 300000);
  console.log("done after", (performance.now()-t0)/1000);
  console.log(await page.evaluate("JSON.stringify({...tinyllama.state, steps: tinyllama.state.steps.map(s=>[s.loss.toFixed(3), Math.round(s.tokens_per_sec)])})"));
  await page.evaluate(`document.getElementById("sample").click()`);
  await page.waitFor(`(t => t && t !== "…" && t)(document.getElementById("sample-out").textContent)`, 30000);
  await Deno.writeFile("/tmp/shot_builtin.png", await page.screenshot());
} finally { await chrome.close(); }
