import assert from "node:assert/strict";
import { optIn } from "@tinyllama-ts/cli";
import { bundleWeb } from "./bundle.ts";
import { Chromium, findChromium } from "./_chromium.ts";
import { countColor, decodePng } from "./_png.ts";
import { serveDashboard } from "./dashboard_server.ts";
import { prepareSources, pretrainArgs, ROOT, testSources } from "./_test_corpus.ts";

const chromium = await findChromium();
const requireChromium = optIn("TINYLLAMA_REQUIRE_CHROMIUM");
if (!chromium && !requireChromium) {
  console.warn(
    "dashboard_test: chromium not found, skipping the browser test (set TINYLLAMA_REQUIRE_CHROMIUM to fail)",
  );
}
const SCREENSHOTS = optIn("TINYLLAMA_UPDATE_SCREENSHOTS")
  ? new URL("./screenshots/", import.meta.url).pathname
  : null;

/** One raw HTTP/1.1 request (fetch would normalise `..` and `%2e%2e` away before sending). */
async function rawRequest(
  port: number,
  method: string,
  target: string,
): Promise<{ status: number; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      ),
    );
    let text = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return {
      status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]),
      head: text.slice(0, text.indexOf("\r\n\r\n")),
    };
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the server
    }
  }
}

const STEP = (step: number) =>
  JSON.stringify({
    step,
    loss: 8 - step / 10,
    lr: 1e-3,
    grad_norm: 1,
    tokens: 256 * (step + 1),
    tokens_per_sec: 900,
    elapsed: step,
  });

const V1_STATE = JSON.parse(
  await Deno.readTextFile(new URL("../trainer/_testdata/v1_run/trainer_state.json", import.meta.url)),
);

/** A run directory with two complete metric lines and a third cut short (a killed run), beside a secret. */
async function killedRun(): Promise<{ root: string; run: string }> {
  const root = await Deno.makeTempDir({ prefix: "dashboard-test-" });
  const run = `${root}/run`;
  await Deno.mkdir(`${run}/checkpoints/step-00000002`, { recursive: true });
  await Deno.writeTextFile(`${run}/metrics.jsonl`, `${STEP(0)}\n${STEP(1)}\n{"step": 2, "lo`);
  await Deno.writeTextFile(
    `${run}/checkpoints/step-00000002/trainer_state.json`,
    // A real trainer state (the version-1 fixture, which the dashboard migrates as the trainer does).
    JSON.stringify({
      ...V1_STATE,
      step: 2,
      tokens: 512,
      elapsed: 2,
      hparams: { ...V1_STATE.hparams, maxSteps: 10 },
      config: { ...V1_STATE.config, name: "micro-4l-4k" },
    }),
  );
  await Deno.mkdir(`${root}/outside`);
  await Deno.writeTextFile(`${root}/outside/secret.txt`, "secret");
  await Deno.writeTextFile(`${root}/secret.txt`, "secret");
  await Deno.symlink(`${root}/outside`, `${run}/dir-link`);
  await Deno.symlink(`${root}/secret.txt`, `${run}/file-link`);
  return { root, run };
}

Deno.test("dashboard: serves the run's files and nothing outside it; no method writes", async () => {
  const { root, run } = await killedRun();
  const server = serveDashboard({ port: 0, run, bundleDir: root, log: () => {} });
  try {
    const port = server.addr.port;
    const ok = await rawRequest(port, "GET", "/run/metrics.jsonl");
    assert.equal(ok.status, 200);
    for (
      const h of ["cross-origin-opener-policy: same-origin", "cross-origin-embedder-policy: require-corp"]
    ) {
      assert.ok(ok.head.toLowerCase().includes(h), `${h} missing:\n${ok.head}`);
    }
    for (
      const target of [
        "/run/../secret.txt",
        "/run/%2e%2e/secret.txt",
        "/run/%2E%2E%2Fsecret.txt",
        "/run/..%2fsecret.txt",
        "/run/..%5csecret.txt",
        "/run//etc/passwd",
        "/run/%2Fetc%2Fpasswd",
        `/run/${encodeURIComponent(`${root}/secret.txt`)}`,
        "/run/dir-link/secret.txt",
        "/run/file-link",
        "/run/checkpoints/../../secret.txt",
        "/run/./metrics.jsonl",
        "/run/metrics.jsonl%00",
        "/run/",
        "/run/checkpoints",
        "/../secret.txt",
        "/secret.txt",
      ]
    ) {
      const r = await rawRequest(port, "GET", target);
      assert.equal(r.status, 404, `GET ${target}: ${r.status}`);
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      assert.equal((await rawRequest(port, method, "/run/metrics.jsonl")).status, 405, method);
    }
    assert.equal(await Deno.readTextFile(`${root}/secret.txt`), "secret");
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

/** Reads server-sent events from `/events` until `until` says enough. */
async function readEvents(
  port: number,
  until: (events: { event: string; data: unknown }[]) => boolean,
  during?: () => Promise<void>,
): Promise<{ event: string; data: unknown }[]> {
  const ac = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}/events`, { signal: ac.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; data: unknown }[] = [];
  let buf = "", ran = false;
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
      if (during && !ran && events.some((e) => e.event === "metrics")) {
        ran = true;
        await during();
      }
    }
  } finally {
    ac.abort();
    await reader.cancel().catch(() => {});
  }
  return events;
}

Deno.test("dashboard: /events follows metrics.jsonl by complete lines, with the run's status", async () => {
  const { root, run } = await killedRun();
  const server = serveDashboard({ port: 0, run, bundleDir: root, pollMs: 50, log: () => {} });
  try {
    const steps = (events: { event: string; data: unknown }[]) =>
      events.filter((e) => e.event === "metrics").flatMap((e) => e.data as { step: number }[]).map((r) =>
        r.step
      );
    const events = await readEvents(
      server.addr.port,
      (ev) => steps(ev).length >= 4,
      // The run goes on: the cut line is completed and another follows.
      () =>
        Deno.writeTextFile(
          `${run}/metrics.jsonl`,
          `${STEP(2).slice(`{"step": 2, "lo`.length - 1)}\n${STEP(3)}\n`,
          { append: true },
        ),
    );
    assert.deepEqual(steps(events), [0, 1, 2, 3]);
    const status = events.find((e) => e.event === "status")!.data as {
      latest: { step: number; maxSteps: number };
    };
    assert.equal(status.latest.step, 2);
    assert.equal(status.latest.maxSteps, 10);
  } finally {
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "dashboard: while a short pretrain runs, the page's step count advances without a reload",
  ignore: !chromium && !requireChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assert.ok(chromium, "TINYLLAMA_REQUIRE_CHROMIUM is set but chromium is not installed");
    const dir = await Deno.makeTempDir({ prefix: "dashboard-test-" });
    const bundleDir = `${dir}/bundle`;
    await bundleWeb(bundleDir);
    const sources = testSources();
    const data = await prepareSources(dir, sources);
    const out = `${dir}/run`;
    const flags = [
      "--max-steps",
      "60",
      "--micro-batch-size",
      "4",
      "--global-batch-size",
      "4",
      "--seq-len",
      "64",
    ];
    const proc = new Deno.Command(Deno.execPath(), {
      args: pretrainArgs(out, sources, data, [...flags, "--save-interval", "20", "--eval-interval", "0"]),
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(proc.stderr).text();
    let server: Deno.HttpServer<Deno.NetAddr> | null = null;
    const browser = await Chromium.launch(chromium);
    try {
      const deadline = performance.now() + 60_000;
      while (!(await Deno.stat(`${out}/metrics.jsonl`).catch(() => null))) {
        assert.ok(performance.now() < deadline, "the run did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
      server = serveDashboard({ port: 0, run: out, bundleDir, pollMs: 200, log: () => {} });
      const page = await browser.open(`http://127.0.0.1:${server.addr.port}/`);
      const stepNow = `Number(document.getElementById("step").textContent) || 0`;
      const first = await page.waitFor<number>(`(${stepNow}) >= 1 && (${stepNow})`, 60_000, "a first step");
      const loadedAt = await page.evaluate<number>("dashboard.loadedAt");
      const later = await page.waitFor<number>(
        `(${stepNow}) > ${first} && (${stepNow})`,
        60_000,
        "more steps",
      );
      assert.ok(later > first);
      const status = await proc.status;
      assert.ok(status.success, await stderr);
      await page.waitFor(
        `document.getElementById("state").textContent.startsWith("finished")`,
        30_000,
        "finished",
      );
      assert.equal(await page.evaluate<number>("dashboard.loadedAt"), loadedAt, "the page reloaded");
      assert.equal(await page.evaluate<number>("dashboard.steps.length"), 60);
      assert.equal(await page.evaluate<string>(`document.getElementById("step").textContent`), "60");
      const points = await page.evaluate<number[]>(
        `[...document.querySelectorAll("figure.plot")].map((f) => Number(f.querySelector("path.line")?.dataset.points ?? 0))`,
      );
      assert.deepEqual(points, [60, 60, 60, 60]);
      await page.waitFor(
        `document.getElementById("checkpoint").textContent.includes("step-00000060")`,
        30_000,
        "the final checkpoint",
      );
      const png = await page.screenshot();
      assert.ok(countColor(await decodePng(png), "#1f6feb") > 1000, "no plots in the screenshot");
      if (SCREENSHOTS) {
        await Deno.mkdir(SCREENSHOTS, { recursive: true });
        await Deno.writeFile(`${SCREENSHOTS}dashboard.png`, png);
      }
    } finally {
      try {
        proc.kill();
      } catch {
        // already ended
      }
      await proc.status;
      await browser.close();
      await server?.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
