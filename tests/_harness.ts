/**
 * Test helpers of the model layer: where the PyTorch fixtures live, what they hold, the backends every
 * model test runs on, and (re-exported) the error measure of the gradient checks.
 *
 * @module
 */
import { type Backend, ReferenceBackend } from "@tinyllama-ts/backend";
import { WasmBackend } from "@tinyllama-ts/backend-wasm";
import { createWebGpuBackend } from "@tinyllama-ts/backend-webgpu";
import { gpuTestRegistrar, tryWebGpu } from "../packages/backend-webgpu/_webgpu/test_gpu.ts";

/** `tests/fixtures/model/` (written by make_fixtures.py and roundtrip.ts / check_roundtrip.py). */
export const FIXTURES: string = new URL("./fixtures/model/", import.meta.url).pathname;

/** The repository root (CLIs run from there). */
export const REPO_ROOT: string = new URL("../", import.meta.url).pathname;

/** `expected.json` of a fixture case. */
export interface Expected {
  input_ids: number[][];
  targets: number[][];
  loss: number;
  prompt_ids: number[];
  greedy_ids: number[];
  loss_bf16?: number;
  loss_f16?: number;
  eval_stream?: number[];
  eval_seq_len?: number;
  eval_loss?: number;
  eval_loss_first_2?: number;
}

/** Reads a case's `expected.json`. */
export async function expected(name: string): Promise<Expected> {
  return JSON.parse(await Deno.readTextFile(`${FIXTURES}${name}/expected.json`));
}

/**
 * A backend every model test runs on: `create` opens a fresh one (the test destroys it), `test` registers
 * a test that needs it.
 */
export interface TestBackend {
  name: string;
  create(): Promise<Backend>;
  test(name: string, fn: () => Promise<void>): void;
}

// Whether this machine has a WebGPU adapter is known only by asking, and must be known before the tests
// are registered (they are skipped, or fail under TINYLLAMA_REQUIRE_WEBGPU=1, without one); the probe's
// device is released at once, each test opens its own.
const gpuProbe = await tryWebGpu();
if (typeof gpuProbe !== "string") gpuProbe.destroy();
const gpuTest = gpuTestRegistrar<null>(typeof gpuProbe === "string" ? gpuProbe : null);

/** The backends every model test runs on; WebGPU's tests follow `_webgpu/test_gpu.ts`'s rules. */
export const BACKENDS: readonly TestBackend[] = [
  { name: "reference", create: () => Promise.resolve(new ReferenceBackend()), test: Deno.test },
  { name: "wasm", create: () => Promise.resolve(new WasmBackend()), test: Deno.test },
  { name: "webgpu", create: () => createWebGpuBackend(), test: (name, fn) => gpuTest(name, fn) },
];

/** The error measure of every numeric test (max|a − b| / max|b|), as the backends' tests use it. */
export { relError } from "@tinyllama-ts/backend/testing";

/** A tensor file of arbitrary (also unsupported) dtypes for bad-input tests: `[name, dtype, shape, bytes]`. */
export function rawSafetensors(
  entries: [string, string, number[], Uint8Array][],
  headerExtra = {},
): Uint8Array {
  const header: Record<string, unknown> = { ...headerExtra };
  let off = 0;
  for (const [name, dtype, shape, bytes] of entries) {
    header[name] = { dtype, shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, , , bytes] of entries) {
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** Copies a fixture checkpoint directory into a fresh temporary directory and returns its path. */
export async function copyFixture(name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `model-${name}-` });
  for await (const e of Deno.readDir(`${FIXTURES}${name}`)) {
    if (e.isFile) await Deno.copyFile(`${FIXTURES}${name}/${e.name}`, `${dir}/${e.name}`);
  }
  return dir;
}

/** Result of {@link runCli}. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The last non-empty stdout line. */
  lastLine: string;
}

/** Runs a CLI of this package (`eval_cli.ts`, ...) with `deno run --allow-read` from the repository root. */
export async function runCli(script: string, args: string[]): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", `packages/eval/${script}`, ...args],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  return { code: out.code, stdout, stderr, lastLine: lines[lines.length - 1] ?? "" };
}
