/**
 * Test helpers: the MPI launchers installed on this machine, and a way to run a Deno program as N ranks
 * under each. Tests skip visibly when none is installed, unless `TINYLLAMA_REQUIRE_MPI=1` makes that a
 * failure (CI sets it).
 *
 * @module
 */
import { optIn } from "@tinyllama-ts/cli";

/** A launcher: its family and the command line that starts `n` ranks of a program. */
export interface Launcher {
  family: "mpich" | "openmpi";
  /** The launcher's arguments before the program for `n` ranks. */
  command(n: number): string[];
}

const CANDIDATES: { family: "mpich" | "openmpi"; bin: string; args: (n: number) => string[] }[] = [
  { family: "mpich", bin: "mpiexec.mpich", args: (n) => ["-n", String(n)] },
  {
    family: "openmpi",
    bin: "mpirun.openmpi",
    // As root (containers, CI) Open MPI wants consent; more ranks than cores wants --oversubscribe; and it
    // pins a rank to one core unless told not to.
    args: (n) => ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", String(n)],
  },
];

/**
 * The launchers found on `PATH` (`mpiexec.mpich` of Debian's `mpich`, `mpirun.openmpi` of
 * `openmpi-bin`).
 *
 * @example
 * ```ts
 * import { installedLaunchers } from "@tinyllama-ts/mpi/testing";
 * for (const l of await installedLaunchers()) console.log(l.family, l.command(2).join(" "));
 * ```
 */
export async function installedLaunchers(): Promise<Launcher[]> {
  const found: Launcher[] = [];
  for (const c of CANDIDATES) {
    if (await onPath(c.bin)) found.push({ family: c.family, command: (n) => [c.bin, ...c.args(n)] });
  }
  if (found.length < CANDIDATES.length && optIn("TINYLLAMA_REQUIRE_MPI")) {
    const missing = CANDIDATES.filter((c) => !found.some((f) => f.family === c.family)).map((c) => c.bin);
    throw new Error(`TINYLLAMA_REQUIRE_MPI=1 but ${missing.join(", ")} not on PATH`);
  }
  return found;
}

/** What a launched job did. */
export interface JobResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `args` (a command and its arguments) under `launcher` as `n` ranks, with `env` added.
 *
 * @example
 * ```ts ignore
 * const [l] = await installedLaunchers();
 * const r = await launch(l, 2, [Deno.execPath(), "run", "--allow-ffi", "prog.ts"]);
 * ```
 */
export async function launch(
  launcher: Launcher,
  n: number,
  args: string[],
  env: Record<string, string> = {},
): Promise<JobResult> {
  const [cmd, ...rest] = [...launcher.command(n), ...args];
  const out = await new Deno.Command(cmd, {
    args: rest,
    env: { TINYLLAMA_THREADS: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function onPath(bin: string): Promise<boolean> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if ((await Deno.stat(`${dir}/${bin}`)).isFile) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
