/**
 * Test helper: headless Chromium driven over the DevTools protocol (the page's async work outlives the
 * load event, so `--dump-dom` is not enough): open a page, evaluate expressions in it, wait for a
 * condition, take a screenshot.
 *
 * @module
 */
import { findChromium } from "../trainer/_chromium.ts";

export { findChromium };

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

/** A running headless Chromium. */
export class Chromium {
  readonly #proc: Deno.ChildProcess;
  readonly #profile: string;
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  stderr = "";

  private constructor(proc: Deno.ChildProcess, profile: string, ws: WebSocket) {
    this.#proc = proc;
    this.#profile = profile;
    this.#ws = ws;
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(e.data as string);
      const p = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${msg.error.message} ${msg.error.data ?? ""}`));
      else p.resolve(msg.result);
    });
  }

  /** Starts `binary` headless with WebGPU enabled, on a fresh profile. */
  static async launch(binary: string): Promise<Chromium> {
    const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
    const proc = new Deno.Command(binary, {
      args: [
        "--headless=new",
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--window-size=1100,1000",
        "about:blank",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let active = "";
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline) {
      try {
        active = await Deno.readTextFile(`${profile}/DevToolsActivePort`);
        if (active.includes("\n")) break;
      } catch {
        // not written yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const [port, path] = active.trim().split("\n");
    if (!port || !path) {
      proc.kill();
      await proc.status;
      throw new Error("chromium did not open its DevTools port");
    }
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", () => reject(new Error("cannot connect to chromium")), { once: true });
    });
    return new Chromium(proc, profile, ws);
  }

  /** Sends a DevTools command (to a page when `sessionId` is given). */
  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  /** Opens `url` in a new tab. */
  async open(url: string): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, sessionId as string);
    await page.send("Page.enable");
    await page.send("Page.navigate", { url });
    return page;
  }

  /** Ends the browser and removes its profile. */
  async close(): Promise<void> {
    for (const p of this.#pending.values()) p.reject(new Error("chromium closed"));
    this.#pending.clear();
    try {
      this.#ws.close();
    } catch {
      // already closed
    }
    try {
      this.#proc.kill();
    } catch {
      // already ended
    }
    await this.#proc.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** One tab. */
export class Page {
  constructor(readonly browser: Chromium, readonly sessionId: string) {}

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  /** The value of `expression` (awaited if a promise), as JSON. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    const ex = r.exceptionDetails as { exception?: { description?: string }; text?: string } | undefined;
    if (ex) throw new Error(`in the page: ${ex.exception?.description ?? ex.text}`);
    return (r.result as { value: T }).value;
  }

  /** Polls `expression` until it is truthy; returns its value. */
  async waitFor<T>(expression: string, timeoutMs: number, what = expression): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = await this.evaluate<T>(expression).catch(() => undefined);
      if (v) return v;
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
  }
}
