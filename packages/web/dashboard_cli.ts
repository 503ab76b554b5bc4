/**
 * `deno task dashboard --run DIR [--port N] [--host H] [--bundle DIR]`: a live view of a training run
 * on http://127.0.0.1:8418/, read-only (the task first bundles the page, cached).
 *
 * @module
 */
import { runMain, UserError } from "@tinyllama-ts/cli";
import { DEFAULT_BUNDLE_DIR } from "./bundle.ts";
import { checkRunDir, serveDashboard } from "./dashboard_server.ts";
import { parseFlags, portOf } from "./_flags.ts";

/** The dashboard's default port. */
export const DASHBOARD_PORT = 8418;

/** Runs the CLI with `args`; resolves when the server stops. */
export async function dashboardMain(args: readonly string[]): Promise<void> {
  const f = parseFlags(args, ["run", "port", "host", "bundle"]);
  const run = f.get("run");
  if (run === undefined) throw new UserError("usage: deno task dashboard --run DIR [--port N] [--host H]");
  await checkRunDir(run);
  const bundleDir = f.get("bundle") ?? DEFAULT_BUNDLE_DIR;
  try {
    await Deno.stat(`${bundleDir}/dashboard.js`);
  } catch {
    throw new UserError(`${bundleDir}/dashboard.js: no bundle (run \`deno task build:web\`)`);
  }
  const server = serveDashboard({
    host: f.get("host"),
    port: portOf(f.get("port"), DASHBOARD_PORT),
    run,
    bundleDir,
  });
  const { hostname, port } = server.addr;
  console.error(
    `dashboard of ${run}: http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`,
  );
  await server.finished;
}

if (import.meta.main) await runMain(() => dashboardMain(Deno.args));
