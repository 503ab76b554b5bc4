/**
 * Headless Chromium for the report tests: the binary if installed, and the page's DOM after its scripts
 * ran, with everything that would reach the network switched off.
 *
 * @module
 */
import assert from "node:assert/strict";

/** `/usr/bin/chromium` (Debian's) or another on `PATH`, or null when there is none. */
export async function findChromium(): Promise<string | null> {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    try {
      if ((await Deno.stat(p)).isFile) return p;
    } catch {
      // not there
    }
  }
  return null;
}

/** Loads `htmlPath` in headless Chromium and returns the serialised DOM after the page's scripts ran. */
export async function dumpDom(chromium: string, htmlPath: string): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  try {
    const out = await new Deno.Command(chromium, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--metrics-recording-only",
        `--user-data-dir=${profile}`,
        "--dump-dom",
        `file://${htmlPath}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dom = new TextDecoder().decode(out.stdout);
    if (!out.success || dom.trim() === "") {
      throw new Error(`chromium failed (${out.code}): ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    }
    return dom;
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** The four plots of a dumped DOM: the number of points each drew (absent: not drawn). */
export function plottedPoints(dom: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of dom.matchAll(/<figure id="plot-([a-z_]+)"[^>]*>([\s\S]*?)<\/figure>/g)) {
    const path = /<path class="line" d="(M[^"]+)" data-points="(\d+)"/.exec(m[2]);
    if (path) {
      // Every point is an M or L command with two finite coordinates.
      const cmds = path[1].match(/[ML]-?\d+(\.\d+)? -?\d+(\.\d+)?/g) ?? [];
      assert.equal(cmds.length, Number(path[2]), `plot ${m[1]}: ${cmds.length} commands`);
      out[m[1]] = cmds.length;
    }
  }
  return out;
}
