import assert from "node:assert/strict";
import { optIn } from "@tinyllama-ts/cli";
import { dumpDom, findChromium, plottedPoints } from "./_chromium.ts";
import type { MetricsRecord } from "./metrics.ts";
import { renderReport } from "./report.ts";

const chromium = await findChromium();
const requireChromium = optIn("TINYLLAMA_REQUIRE_CHROMIUM");
if (!chromium && !requireChromium) {
  console.warn(
    "report_test: chromium not found, skipping the rendering checks (set TINYLLAMA_REQUIRE_CHROMIUM to fail)",
  );
}

function syntheticMetrics(n: number): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  for (let s = 0; s < n; s++) {
    out.push({
      step: s,
      loss: 8 * Math.exp(-s / 20) + 2,
      lr: s < 5 ? 1e-3 * s / 5 : 1e-3 * (0.1 + 0.45 * (1 + Math.cos(Math.PI * (s - 5) / (n - 5)))),
      grad_norm: 1,
      tokens: (s + 1) * 1024,
      tokens_per_sec: 900 + 30 * Math.sin(s),
      elapsed: s,
    });
    if ((s + 1) % 10 === 0) {
      out.push({ step: s, val_loss: 8 * Math.exp(-s / 20) + 2.2, val_ppl: 1, elapsed: s });
    }
  }
  return out;
}

Deno.test({
  name: "report.html renders its four plots in headless Chromium, self-contained",
  ignore: !chromium && !requireChromium,
  async fn() {
    assert.ok(chromium, "TINYLLAMA_REQUIRE_CHROMIUM is set but chromium is not installed");
    const html = renderReport({
      title: "tinyllama-ts run <test>",
      metrics: syntheticMetrics(50),
      config: { name: "micro-4l-4k", n_layer: 4 },
      hparams: { lr: 1e-3, maxSteps: 50 },
      final: { "final loss": 2.1, "validation loss": 2.3 },
      sample: {
        prompt: "The ",
        completion: "nation </script> & its <b>people</b>",
        settings: "temperature 0.8",
      },
    });
    // Nothing is fetched: no external scripts, styles, images or fonts.
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i);
    assert.doesNotMatch(html.replaceAll('"http://www.w3.org/2000/svg"', ""), /https?:\/\//);
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/report.html`, html);
    const dom = await dumpDom(chromium!, `${dir}/report.html`);
    assert.match(dom, /<body[^>]*data-plots="4"/, "the plot script ran to the end");
    assert.deepEqual(plottedPoints(dom), { loss: 50, val_loss: 5, lr: 50, throughput: 50 });
    // The sample's markup stays text.
    assert.match(dom, /nation &lt;\/script&gt; &amp; its &lt;b&gt;people&lt;\/b&gt;/);
    assert.match(dom, /<td>micro-4l-4k<\/td>/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "report.html without validation or sample still renders, marking the empty plot",
  ignore: !chromium && !requireChromium,
  async fn() {
    const html = renderReport({
      title: "short",
      metrics: syntheticMetrics(3),
      config: {},
      hparams: {},
      final: {},
    });
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/report.html`, html);
    const dom = await dumpDom(chromium!, `${dir}/report.html`);
    assert.match(dom, /data-plots="3"/);
    assert.deepEqual(plottedPoints(dom), { loss: 3, lr: 3, throughput: 3 });
    assert.match(dom, /<figure id="plot-val_loss"[^>]*>[\s\S]*?no data/);
    await Deno.remove(dir, { recursive: true });
  },
});
