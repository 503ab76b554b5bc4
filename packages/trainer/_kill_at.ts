/**
 * Test driver: `deno task pretrain` that SIGKILLs itself at a chosen point, so crash tests stop a run
 * exactly where they mean to. `step:N` dies right after step N's metrics line; `checkpoint:N` dies while
 * the checkpoint of step N is written (its tensors in the temporary directory, its state and rename not).
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-run packages/trainer/_kill_at.ts checkpoint:14 --out runs/a ...
 * ```
 *
 * @module
 */
import { runMain, UserError } from "@tinyllama-ts/cli";
import { pretrainMain } from "./pretrain_cli.ts";

if (import.meta.main) {
  await runMain(async () => {
    const [at = "", ...args] = Deno.args;
    const m = /^(step|checkpoint):(\d+)$/.exec(at);
    if (!m) throw new UserError(`expected step:N or checkpoint:N, got "${at}"`);
    const n = Number(m[2]);
    const die = () => {
      Deno.kill(Deno.pid, "SIGKILL");
      return new Promise<never>(() => {});
    };
    const code = await pretrainMain(
      args,
      m[1] === "step"
        ? { onStep: (r) => r.step === n ? die() : undefined }
        : { onCheckpointWrite: (_dir, step) => step === n ? die() : undefined },
    );
    if (code !== 0) Deno.exit(code);
  });
}
