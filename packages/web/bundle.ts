/**
 * Bundles the two pages for the browser with `deno bundle --platform browser`: the training page
 * (`app.js`, its training worker `train_worker.js`, the compute core's thread `wasm_worker.js`, the
 * core's `.wasm` beside them) and the dashboard (`dashboard.js`). Workers are entry points of their
 * own because the bundler leaves `new Worker(new URL(…))` as it is. The WASM backend's runtime reads
 * its module with `Deno.readFile` and starts `node:worker_threads`; an import-map entry keyed by that
 * module's file URL puts the browser runtime (`_wasm_runtime_browser.ts`) in its place, so the backend
 * itself is bundled unchanged.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** Where `deno task build:web` writes the bundles. */
export const DEFAULT_BUNDLE_DIR = "runs/web";

const HERE = new URL("./", import.meta.url);
const ENTRIES = ["page/app.ts", "page/train_worker.ts", "page/wasm_worker.ts", "page/dashboard.ts"];
const WASM = new URL("../backend-wasm/_wasm/tinyllama_core_bg.wasm", import.meta.url);

/** The files of a bundle directory that the servers serve. */
export const BUNDLE_FILES: readonly string[] = [
  "app.js",
  "train_worker.js",
  "wasm_worker.js",
  "dashboard.js",
  "tinyllama_core_bg.wasm",
];

/**
 * Writes the bundles into `outDir` (created if needed). Needs `deno` itself (run permission) and,
 * the first time, the npm registry for the bundler.
 *
 * @example
 * ```ts ignore
 * await bundleWeb("runs/web");
 * ```
 */
export async function bundleWeb(outDir: string = DEFAULT_BUNDLE_DIR): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  // Beside the bundles, so that the task writes nowhere else.
  const importMap = `${outDir}/.import-map.json`;
  try {
    await Deno.writeTextFile(
      importMap,
      JSON.stringify({
        imports: {
          [new URL("../backend-wasm/_wasm_runtime.ts", import.meta.url).href]:
            new URL("./_wasm_runtime_browser.ts", import.meta.url).href,
        },
      }),
    );
    // `deno` itself: its path when running it is allowed, else by name (`--allow-run=deno`).
    const granted = Deno.permissions.querySync({ name: "run", command: Deno.execPath() }).state === "granted";
    const out = await new Deno.Command(granted ? Deno.execPath() : "deno", {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--import-map",
        importMap,
        "--outdir",
        outDir,
        ...ENTRIES.map((e) => new URL(e, HERE).pathname),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new UserError(`deno bundle failed: ${new TextDecoder().decode(out.stderr).trim().slice(-2000)}`);
    }
    await Deno.copyFile(WASM, `${outDir}/tinyllama_core_bg.wasm`);
  } finally {
    await Deno.remove(importMap).catch(() => {});
  }
}

if (import.meta.main) {
  const { runMain } = await import("@tinyllama-ts/cli");
  await runMain(async () => {
    const dir = Deno.args[0] ?? DEFAULT_BUNDLE_DIR;
    await bundleWeb(dir);
    console.error(`bundled the pages into ${dir}`);
  });
}
