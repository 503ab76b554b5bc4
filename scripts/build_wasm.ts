/**
 * Builds the Rust compute core (`crates/core`) to wasm32 with SIMD128, relaxed SIMD and threads (shared
 * memory) and writes the module and its wasm-bindgen glue to `packages/backend-wasm/_wasm/`.
 *
 * Threads: the module imports a shared memory (`--shared-memory --import-memory`, up to 4 GiB) and
 * exports the TLS symbols wasm-bindgen's thread support needs; `std` is rebuilt with atomics. The glue
 * is wasm-bindgen's `--target web` output, whose `initSync({ module, memory })` instantiates the same
 * module again over the same memory in a worker, with a stack and TLS block of its own
 * (`packages/backend-wasm/_wasm_runtime.ts` and `_wasm_worker.ts` use it); the `deno` target instantiates at
 * import with a fresh memory and cannot be shared.
 *
 * The wasm32 target cannot be added through rustup on our machines, so this uses Debian's `rustc-web`
 * toolchain (rustc 1.96 with its standard-library source) and builds `std` from source (build-std, see
 * `crates/core/.cargo/config.toml`). The output is reproducible across checkout paths: absolute paths
 * are remapped, and neither rustc nor wasm-bindgen embeds timestamps. CI rebuilds and fails when the
 * committed artifact differs.
 *
 * Usage: `deno task build:wasm` (environment: `RUSTC`, `CARGO`, `WASM_BINDGEN` override the tools).
 *
 * @module
 */
import { runMain, UserError } from "@tinyllama-ts/cli";

const root = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const crateDir = `${root}/crates/core`;
const outDir = `${root}/packages/backend-wasm/_wasm`;

async function run(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<void> {
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command(cmd, { args, env, cwd, stdout: "inherit", stderr: "inherit" }).spawn()
      .status;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${cmd} not found (see README: Toolchain)`);
    throw e;
  }
  if (!status.success) throw new UserError(`${cmd} ${args[0]} failed with exit code ${status.code}`);
}

function findWasmBindgen(): string {
  const fromEnv = Deno.env.get("WASM_BINDGEN");
  if (fromEnv) return fromEnv;
  const home = Deno.env.get("CARGO_HOME") ?? `${Deno.env.get("HOME")}/.cargo`;
  try {
    Deno.statSync(`${home}/bin/wasm-bindgen`);
    return `${home}/bin/wasm-bindgen`;
  } catch {
    return "wasm-bindgen";
  }
}

await runMain(async () => {
  const cargoHome = Deno.env.get("CARGO_HOME") ?? `${Deno.env.get("HOME")}/.cargo`;
  // RUSTFLAGS replaces the config file's rustflags, so the target features and link arguments are
  // repeated here (see crates/core/.cargo/config.toml).
  const rustflags = [
    "-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128,+relaxed-simd",
    ...[
      "--shared-memory",
      "--import-memory",
      "--max-memory=4294967296",
      "--export=__wasm_init_tls",
      "--export=__tls_size",
      "--export=__tls_align",
      "--export=__tls_base",
    ].map((arg) => `-C link-arg=${arg}`),
    `--remap-path-prefix=${crateDir}=/tinyllama-core`,
    `--remap-path-prefix=${cargoHome}=/cargo`,
  ].join(" ");
  await run(Deno.env.get("CARGO") ?? "/usr/bin/cargo", [
    "build",
    "--release",
    "--locked",
    "-Z",
    "build-std=std,panic_abort",
  ], {
    RUSTC: Deno.env.get("RUSTC") ?? "/usr/bin/rustc",
    RUSTC_BOOTSTRAP: "1",
    RUSTFLAGS: rustflags,
  }, crateDir);
  await run(
    findWasmBindgen(),
    [
      "--target",
      "web",
      "--out-dir",
      outDir,
      "--out-name",
      "tinyllama_core",
      `${crateDir}/target/wasm32-unknown-unknown/release/tinyllama_core.wasm`,
    ],
    {},
    root,
  );
  console.log(`wrote ${outDir}`);
});
