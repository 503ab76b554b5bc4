/**
 * `deno task pretrain`: TinyLlama's pretraining recipe on the built-in corpus or your own data.
 *
 * ```sh
 * deno task pretrain                         # every stage with the defaults (see below)
 * deno task pretrain --data DIR --max-steps 1000 --out runs/a    # train, evaluate, report
 * deno task pretrain --out runs/a --resume auto                   # continue runs/a
 * deno run ... pretrain_cli.ts prepare|train|eval|report [--out DIR]   # one stage
 * ```
 *
 * Without arguments: prepare the built-in corpus and its tokenizer (cached under `runs/`), train the
 * `micro-4l-4k` preset in `runs/pretrain` (continuing it if a checkpoint is there), evaluate it,
 * generate a sample and write `runs/pretrain/report.html`. The last stdout line is a JSON summary
 * `{"out", "checkpoint", "val_loss", "tokens", "seconds"}`; `seconds` is this command's wall clock (the
 * report stage alone gives the training and evaluation times recorded in the run).
 * SIGINT/SIGTERM save a checkpoint and exit with 130/143.
 *
 * @example
 * ```ts ignore
 * import { pretrainMain } from "@tinyllama-ts/trainer";
 * await pretrainMain(["--data", "data/corpus", "--max-steps", "10", "--out", "runs/try"]);
 * ```
 * @module
 */
import { checkOutputDir, runMain, UserError } from "@tinyllama-ts/cli";
import { parsePretrainFlags, PRETRAIN_USAGE, type PretrainFlags, trainOptionsFromFlags } from "./flags.ts";
import { evaluate, prepareBuiltin, type Summary, writeReport } from "./pipeline.ts";
import { planLines } from "./plan.ts";
import { DEFAULT_OUT, train, type TrainOptions, type TrainResult } from "./train.ts";
import { refuseUnderLauncher } from "./distributed.ts";

const STAGES = ["prepare", "train", "eval", "report"] as const;
type Stage = typeof STAGES[number];

/**
 * Runs the command on `args` and returns its exit code (0, or 130/143 after a signal); results go to
 * stdout as JSON lines, messages to stderr. `hooks` reach {@link train} (tests stop a run at chosen
 * points with them). With `parallel` (`deno task pretrain:mpi`) this is one rank of a data-parallel
 * job: it trains (no other stage), and only rank 0 prints; without it, a multi-rank MPI launcher is
 * refused.
 */
export async function pretrainMain(
  args: readonly string[],
  hooks: Pick<TrainOptions, "onStep" | "onCheckpointWrite" | "parallel"> = {},
): Promise<number> {
  const par = hooks.parallel;
  if (!par) refuseUnderLauncher();
  const writer = par?.writer ?? true;
  const start = performance.now();
  const log = writer ? (s: string) => console.error(s) : () => {};
  const seconds = () => (performance.now() - start) / 1000;
  let stage: Stage | undefined;
  if (args.length > 0 && !args[0].startsWith("-")) {
    if (!(STAGES as readonly string[]).includes(args[0])) {
      throw new UserError(`unknown stage "${args[0]}" (expected ${STAGES.join(", ")}, or flags)`);
    }
    stage = args[0] as Stage;
    args = args.slice(1);
  }
  const flags = parsePretrainFlags(args);
  if (flags.help) {
    if (writer) console.log(PRETRAIN_USAGE);
    return 0;
  }
  if (flags.shardOptimizer && !par) {
    throw new UserError(
      "--shard-optimizer shards the optimizer across MPI ranks: run deno task pretrain:mpi under a launcher",
    );
  }
  if (par && stage !== undefined && stage !== "train") {
    throw new UserError(
      `pretrain:mpi trains; run the ${stage} stage with one process (deno task pretrain ${stage})`,
    );
  }
  if (flags.plan) {
    if (!writer) return 0; // one plan, from rank 0
    if (stage !== undefined) throw new UserError(`--plan is not a stage's flag (got stage "${stage}")`);
    for (const line of await planLines(flags)) console.log(line);
    return 0;
  }
  const out = flags.out ?? DEFAULT_OUT;
  // Every stage reads or writes the run directory: a file, or a path under one, is refused up front.
  await checkOutputDir("--out", out, { ours: () => true });
  const onlyOut = () => {
    const extra = args.filter((a, i) =>
      !(a === "--out" || a.startsWith("--out=") || args[i - 1] === "--out")
    );
    if (extra.length > 0) throw new UserError(`the ${stage} stage takes only --out (got ${extra.join(" ")})`);
  };
  // No flags: the default recipe, continuing the default run if it is there (so a second run is cheap).
  const trainFlags: PretrainFlags = args.length === 0 ? { ...flags, resume: "auto" } : flags;
  let builtin: ReturnType<typeof prepareBuiltin> | undefined;
  // Data-parallel: rank 0 prepares the built-in data (a shared cache) before the others read it.
  const defaultData = () =>
    builtin ??= par ? par.rankZeroFirst(() => prepareBuiltin(log)) : prepareBuiltin(log);
  const trainStep = async (): Promise<TrainResult | number> => {
    // SIGINT/SIGTERM stop the run after the current step, with a checkpoint.
    const abort = new AbortController();
    let stoppedBy: "SIGINT" | "SIGTERM" | undefined;
    const listeners = (["SIGINT", "SIGTERM"] as const).map((sig) => {
      const listener = () => {
        stoppedBy ??= sig;
        abort.abort(sig);
      };
      Deno.addSignalListener(sig, listener);
      return () => Deno.removeSignalListener(sig, listener);
    });
    let r: TrainResult;
    try {
      r = await train(trainOptionsFromFlags(trainFlags, { defaultData, signal: abort.signal, ...hooks }));
    } finally {
      for (const remove of listeners) remove();
    }
    if (r.firstLoss !== null && r.lastLoss !== null) {
      const drop = 100 * (1 - r.lastLoss / r.firstLoss);
      const change = drop >= 0 ? `${drop.toFixed(1)}% lower` : `${(-drop).toFixed(1)}% higher`;
      log(`loss ${r.firstLoss.toFixed(4)} → ${r.lastLoss.toFixed(4)} (${change})`);
    }
    if (r.interrupted) {
      log(
        `${
          stoppedBy ?? "a signal to another rank"
        }: stopped after step ${r.steps}; checkpoint ${r.checkpoint} ` +
          `(continue with --resume auto)`,
      );
      return stoppedBy === "SIGINT" ? 130 : 143;
    }
    return r;
  };
  const print = (o: unknown) => console.log(JSON.stringify(o));
  // Data-parallel ranks other than 0 return after training; rank 0 evaluates, reports and prints.

  switch (stage) {
    case "prepare": {
      if (args.length > 0) throw new UserError("the prepare stage takes no flags");
      const { data, tokenizer } = await defaultData();
      print({ data: data.map((d) => `${d.dir}:${d.weight}`), tokenizer });
      return 0;
    }
    case "train": {
      const r = await trainStep();
      if (typeof r === "number") return r;
      if (!writer) return 0;
      print({ out: r.out, checkpoint: r.checkpoint, steps: r.steps, tokens: r.tokens, seconds: r.seconds });
      return 0;
    }
    case "eval": {
      onlyOut();
      const r = await evaluate(out, log);
      print({
        checkpoint: r.checkpoint,
        val_loss: r.val_loss,
        val_ppl: r.val_ppl,
        sample: r.sample?.completion ?? null,
      });
      return 0;
    }
    case "report": {
      onlyOut();
      const summary: Summary = await writeReport(out, null, log);
      log(`report: ${out}/report.html`);
      print(summary);
      return 0;
    }
    case undefined: {
      if (args.length === 0) await defaultData();
      const r = await trainStep();
      if (typeof r === "number") return r;
      if (!writer) return 0;
      const ev = await evaluate(r.out, log);
      if (ev.sample) log(`sample: ${ev.sample.prompt}${ev.sample.completion}`);
      const summary = await writeReport(r.out, seconds(), log);
      log(`report: ${r.out}/report.html`);
      print(summary);
      return 0;
    }
  }
}

if (import.meta.main) {
  await runMain(async () => {
    const code = await pretrainMain(Deno.args);
    if (code !== 0) Deno.exit(code);
  });
}
