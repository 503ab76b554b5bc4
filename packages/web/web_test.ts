import assert from "node:assert/strict";
import { optIn } from "@tinyllama-ts/cli";
import { createBackend } from "@tinyllama-ts/backends";
import { bundleWeb } from "./bundle.ts";
import { Chromium, findChromium, type Page } from "./_chromium.ts";
import { countColor, decodePng } from "./_png.ts";
import { cliPretrain, runDeno, TEST_TOKENIZER, testSources } from "./_test_corpus.ts";
import { serveWeb } from "./web_server.ts";

const chromium = await findChromium();
const requireChromium = optIn("TINYLLAMA_REQUIRE_CHROMIUM");
if (!chromium && !requireChromium) {
  console.warn(
    "web_test: chromium not found, skipping the browser tests (set TINYLLAMA_REQUIRE_CHROMIUM to fail)",
  );
}
/** With TINYLLAMA_UPDATE_SCREENSHOTS=1 the screenshots are written where the README shows them. */
const SCREENSHOTS = optIn("TINYLLAMA_UPDATE_SCREENSHOTS")
  ? new URL("./screenshots/", import.meta.url).pathname
  : null;
/** The loss curve's colour (`.s0` in page/style.css). */
const CURVE = "#1f6feb";

/** Serves freshly bundled pages over the test corpus and opens `query` in headless Chromium. */
async function withPage(query: string, fn: (page: Page) => Promise<void>): Promise<void> {
  assert.ok(chromium, "TINYLLAMA_REQUIRE_CHROMIUM is set but chromium is not installed");
  const bundleDir = await Deno.makeTempDir({ prefix: "web-bundle-" });
  await bundleWeb(bundleDir);
  const server = serveWeb({
    port: 0,
    bundleDir,
    tokenizer: TEST_TOKENIZER,
    corpus: { name: "test corpus", sources: testSources() },
    log: () => {},
  });
  const browser = await Chromium.launch(chromium);
  try {
    await fn(await browser.open(`http://127.0.0.1:${server.addr.port}/?${query}`));
  } finally {
    await browser.close();
    await server.shutdown();
    await Deno.remove(bundleDir, { recursive: true });
  }
}

interface PageState {
  backend: string;
  device: string;
  note: string;
  error: string;
  done: boolean;
  steps: { step: number; loss: number | null }[];
}

async function trainToEnd(page: Page, timeoutMs: number): Promise<PageState> {
  await page.waitFor(
    "globalThis.tinyllama?.state.done || globalThis.tinyllama?.state.error",
    timeoutMs,
    "training",
  );
  const state = await page.evaluate<PageState>("tinyllama.state");
  assert.equal(state.error, "", `the page failed: ${state.error}`);
  return state;
}

/** The screenshot, checked for a drawn loss curve; written for the README when asked. */
async function checkScreenshot(page: Page, name: string): Promise<void> {
  const png = await page.screenshot();
  const img = await decodePng(png);
  // The curve is a 2px line across most of the 520-unit plot: well over 500 pixels of its colour.
  assert.ok(countColor(img, CURVE) > 500, `${name}: no loss curve in the screenshot`);
  if (SCREENSHOTS) {
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    await Deno.writeFile(`${SCREENSHOTS}${name}`, png);
  }
}

const WASM_FLAGS = { steps: 20, micro: 4, seq: 64, seed: 7 };

Deno.test({
  name:
    "web: the page trains 20 steps on threaded WASM with the CLI's losses bit for bit; eval reads its checkpoint",
  ignore: !chromium && !requireChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "web-test-" });
    try {
      const f = WASM_FLAGS;
      const cli = await cliPretrain(dir, testSources(), [
        "--max-steps",
        String(f.steps),
        "--micro-batch-size",
        String(f.micro),
        "--global-batch-size",
        String(f.micro),
        "--seq-len",
        String(f.seq),
        "--seed",
        String(f.seed),
        "--backend",
        "wasm",
      ]);
      await withPage(
        `backend=wasm&steps=${f.steps}&micro=${f.micro}&seq=${f.seq}&seed=${f.seed}&autostart=1`,
        async (page) => {
          assert.equal(await page.evaluate("crossOriginIsolated"), true);
          const state = await trainToEnd(page, 120_000);
          assert.equal(state.backend, "wasm");
          const threads = Number(/(\d+) threads?/.exec(state.device)?.[1]);
          const cores = await page.evaluate<number>("navigator.hardwareConcurrency");
          assert.equal(threads, cores, `${state.device}: not threaded (${state.note})`);
          const losses = state.steps.map((s) => s.loss);
          assert.equal(losses.length, f.steps);
          assert.deepEqual(losses, cli.losses, "the page's losses differ from deno task pretrain's");
          assert.ok(
            losses.at(-1)! < losses[0]! - 0.1,
            `the loss did not fall: ${losses[0]} → ${losses.at(-1)}`,
          );

          // A sample, then the checkpoint as the download button gives it.
          await page.evaluate(`document.getElementById("sample").click()`);
          const sample = await page.waitFor<string>(
            `(t => t && t !== "…" && t)(document.getElementById("sample-out").textContent)`,
            30_000,
            "a sample",
          );
          assert.ok(sample.startsWith("The"), sample);
          await checkScreenshot(page, "web-training.png");
          const files = await page.evaluate<{ name: string; base64: string }[]>(
            "tinyllama.checkpointBase64()",
          );
          assert.deepEqual(files.map((x) => x.name), ["config.json", "model.safetensors", "tokenizer.model"]);
          const ckpt = `${dir}/downloaded`;
          await Deno.mkdir(ckpt);
          for (const x of files) {
            await Deno.writeFile(
              `${ckpt}/${x.name}`,
              Uint8Array.from(atob(x.base64), (c) => c.charCodeAt(0)),
            );
          }
          // The same weights as the CLI's final checkpoint, byte for byte.
          const cliCkpt = `${cli.out}/checkpoints/step-${String(f.steps).padStart(8, "0")}`;
          assert.deepEqual(
            await Deno.readFile(`${ckpt}/model.safetensors`),
            await Deno.readFile(`${cliCkpt}/model.safetensors`),
          );
          // And `deno task eval` reads it: the same loss as on the CLI's checkpoint.
          const evalArgs = (c: string) => [
            ...["run", "--allow-read", "--allow-write", "packages/eval/eval_cli.ts", "--checkpoint", c],
            ...["--data", cli.data[0], "--split", "train", "--seq-len", String(f.seq), "--max-batches", "2"],
          ];
          const evalOf = async (c: string) =>
            JSON.parse((await runDeno(evalArgs(c), "stdout")).trim().split("\n").at(-1)!);
          const [ours, theirs] = [await evalOf(ckpt), await evalOf(cliCkpt)];
          assert.ok(Number.isFinite(ours.loss) && ours.tokens > 0, JSON.stringify(ours));
          assert.deepEqual(ours, theirs);

          // A text dropped on the page replaces the corpus and restarts; Pause stops the steps.
          await page.evaluate(`(() => {
            const dt = new DataTransfer();
            dt.items.add(new File([${JSON.stringify("the union ".repeat(400))}], "dropped.txt"));
            document.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
          })()`);
          await page.waitFor(
            `tinyllama.state.dataName === "dropped dropped.txt" && tinyllama.state.steps.length >= 2`,
            60_000,
            "training on the dropped text",
          );
          await page.evaluate(`document.getElementById("pause").click()`);
          await new Promise((r) => setTimeout(r, 1000)); // a step in flight when Pause came ends
          const paused = await page.evaluate<number>("tinyllama.state.steps.length");
          await new Promise((r) => setTimeout(r, 1500));
          assert.equal(
            await page.evaluate<number>("tinyllama.state.steps.length"),
            paused,
            "steps while paused",
          );
          assert.equal(await page.evaluate<string>("tinyllama.state.status"), "paused");
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function denoHasWebGpu(): Promise<boolean> {
  try {
    (await createBackend("webgpu")).destroy();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "web: the page trains 5 steps on WebGPU within 1e-5 of the CLI's losses",
  ignore: !chromium && !requireChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "web-test-" });
    try {
      // SwiftShader is slow: a tiny batch. The CLI runs on WebGPU too when Deno has an adapter.
      const f = { steps: 5, micro: 1, seq: 32, seed: 11 };
      const cliBackend = await denoHasWebGpu() ? "webgpu" : "wasm";
      const cli = await cliPretrain(dir, testSources(), [
        "--max-steps",
        String(f.steps),
        "--micro-batch-size",
        String(f.micro),
        "--global-batch-size",
        String(f.micro),
        "--seq-len",
        String(f.seq),
        "--seed",
        String(f.seed),
        "--backend",
        cliBackend,
      ]);
      await withPage(
        `backend=webgpu&steps=${f.steps}&micro=${f.micro}&seq=${f.seq}&seed=${f.seed}&autostart=1`,
        async (page) => {
          await page.waitFor(
            "globalThis.tinyllama?.state.done || globalThis.tinyllama?.state.error",
            240_000,
          );
          const error = await page.evaluate<string>("tinyllama.state.error");
          if (/WebGPU unavailable|no WebGPU/.test(error) && !optIn("TINYLLAMA_REQUIRE_WEBGPU")) {
            console.warn(`web_test: this Chromium gives no WebGPU adapter (${error}); skipped`);
            return;
          }
          const state = await trainToEnd(page, 1000);
          assert.equal(state.backend, "webgpu");
          const losses = state.steps.map((s) => s.loss!);
          assert.equal(losses.length, f.steps);
          losses.forEach((l, i) =>
            assert.ok(
              Math.abs(l - cli.losses[i]!) <= 1e-5,
              `step ${i}: ${l} vs the CLI's ${cli.losses[i]} on ${cliBackend}`,
            )
          );
          assert.ok(losses.at(-1)! < losses[0], `the loss did not fall: ${losses}`);
          await checkScreenshot(page, "web-training-webgpu.png");
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
