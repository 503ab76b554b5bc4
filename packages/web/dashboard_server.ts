/**
 * The dashboard's server: the page, and one run directory read-only. `/events` is a server-sent event
 * stream that follows `RUN/metrics.jsonl` as it grows (complete lines only, so a line a kill cut short
 * is never sent; a file that shrank, a run started over, is sent as `reset`), and the run's status
 * (its checkpoints, the newest one's trainer state, `eval.json`) whenever it changes. `/run/PATH` serves
 * the run's own files; a path that could leave the directory is a 404 ({@link resolveInside}).
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";
import { baseHeaders, fileResponse, listen, type ListenOptions, resolveInside, text } from "./serve.ts";
import { parseTrainerState, type TrainerState } from "../trainer/checkpoint.ts";

/** Options of {@link serveDashboard}. */
export interface DashboardOptions extends ListenOptions {
  /** The run directory (`deno task pretrain --out`). */
  run: string;
  /** Where `deno task build:web` wrote the bundles. */
  bundleDir: string;
  /** How often the run is looked at (default 500 ms). */
  pollMs?: number;
}

/** What `/events` says about the run besides its metrics. */
export interface RunStatus {
  run: string;
  /** When `metrics.jsonl` last changed (ms since the epoch), null before it exists. */
  modified: number | null;
  /** Checkpoint directory names, oldest first. */
  checkpoints: string[];
  /** The newest checkpoint's trainer state, in part. */
  latest: {
    name: string;
    step: number;
    tokens: number;
    elapsed: number;
    maxSteps: number | null;
    config: string | null;
  } | null;
  /** `eval.json`: the final evaluation and its sample, when there is one. */
  eval: {
    checkpoint: string;
    step: number;
    val_loss: number | null;
    sample: { prompt: string; completion: string; settings: string } | null;
  } | null;
}

const PAGE = new URL("./page/", import.meta.url);

async function readJson(root: string, rel: string): Promise<Record<string, unknown> | null> {
  const path = await resolveInside(root, rel);
  if (path === null) return null;
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    return null;
  }
}

/** The run's checkpoints and evaluation, read afresh. */
export async function runStatus(run: string): Promise<RunStatus> {
  const checkpoints: string[] = [];
  try {
    const dir = await resolveInsideDir(run, "checkpoints");
    if (dir !== null) {
      for await (const e of Deno.readDir(dir)) {
        if (e.isDirectory && /^step-\d{8}$/.test(e.name)) checkpoints.push(e.name);
      }
    }
  } catch {
    // no checkpoints yet
  }
  checkpoints.sort();
  let latest: RunStatus["latest"] = null;
  const name = checkpoints.at(-1);
  if (name !== undefined) {
    const json = await readJson(run, `checkpoints/${name}/trainer_state.json`);
    // The trainer's own parser: any state version it writes or migrates (a half-written one reads as none).
    let s: TrainerState | null = null;
    try {
      s = json === null ? null : parseTrainerState(json, `checkpoints/${name}/trainer_state.json`);
    } catch {
      s = null;
    }
    if (s !== null) {
      latest = {
        name,
        step: s.step,
        tokens: s.tokens,
        elapsed: s.elapsed,
        maxSteps: s.hparams.maxSteps,
        config: s.config.name,
      };
    }
  }
  const ev = await readJson(run, "eval.json");
  const metrics = await resolveInside(run, "metrics.jsonl");
  let modified: number | null = null;
  if (metrics !== null) modified = (await Deno.stat(metrics).catch(() => null))?.mtime?.getTime() ?? null;
  return {
    run: run.replace(/\/+$/, "").split("/").at(-1) ?? run,
    modified,
    checkpoints,
    latest,
    eval: ev === null ? null : {
      checkpoint: String(ev.checkpoint).split("/").at(-1) ?? "",
      step: Number(ev.step),
      val_loss: typeof ev.val_loss === "number" ? ev.val_loss : null,
      sample: (ev.sample as NonNullable<RunStatus["eval"]>["sample"]) ?? null,
    },
  };
}

/** A directory inside `root` (resolveInside is for files). */
async function resolveInsideDir(root: string, rel: string): Promise<string | null> {
  try {
    const realRoot = await Deno.realPath(root);
    const real = await Deno.realPath(`${realRoot}/${rel}`);
    return real.startsWith(realRoot + "/") && (await Deno.stat(real)).isDirectory ? real : null;
  } catch {
    return null;
  }
}

/** Follows `RUN/metrics.jsonl`: each call returns the complete lines added since the last. */
class MetricsTail {
  #offset = 0;
  #partial = "";
  #decoder = new TextDecoder();
  constructor(readonly run: string) {}

  /** New records, and whether the file started over (shrank) since the last call. */
  async poll(): Promise<{ reset: boolean; records: unknown[] }> {
    const path = await resolveInside(this.run, "metrics.jsonl");
    if (path === null) return { reset: false, records: [] };
    let reset = false;
    const file = await Deno.open(path, { read: true });
    try {
      const size = (await file.stat()).size;
      if (size < this.#offset) {
        reset = true;
        this.#offset = 0;
        this.#partial = "";
        this.#decoder = new TextDecoder();
      }
      if (size === this.#offset) return { reset, records: [] };
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(size - this.#offset);
      let got = 0;
      while (got < buf.length) {
        const n = await file.read(buf.subarray(got));
        if (n === null) break;
        got += n;
      }
      this.#offset += got;
      const lines = (this.#partial + this.#decoder.decode(buf.subarray(0, got), { stream: true })).split(
        "\n",
      );
      this.#partial = lines.pop()!;
      const records: unknown[] = [];
      for (const line of lines) {
        try {
          if (line.trim() !== "") records.push(JSON.parse(line));
        } catch {
          // a corrupt line is skipped, as the trainer's reader skips it
        }
      }
      return { reset, records };
    } finally {
      file.close();
    }
  }
}

/**
 * Serves the dashboard of `opts.run`.
 *
 * @example
 * ```ts ignore
 * const server = serveDashboard({ port: 8418, run: "runs/pretrain", bundleDir: "runs/web" });
 * ```
 */
export function serveDashboard(opts: DashboardOptions): Deno.HttpServer<Deno.NetAddr> {
  const pollMs = opts.pollMs ?? 500;
  const routes = new Map<string, string>([
    ["/", new URL("dashboard.html", PAGE).pathname],
    ["/index.html", new URL("dashboard.html", PAGE).pathname],
    ["/style.css", new URL("style.css", PAGE).pathname],
    ["/dashboard.js", `${opts.bundleDir}/dashboard.js`],
  ]);
  const enc = new TextEncoder();
  return listen(opts, async (req, path) => {
    if (path === "/events") {
      let stopped = false;
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          const send = (event: string, data: unknown) => {
            if (!stopped) {
              controller.enqueue(enc.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
            }
          };
          const tail = new MetricsTail(opts.run);
          let lastStatus = "";
          opts.signal?.addEventListener("abort", () => stopped = true);
          while (!stopped) {
            try {
              const { reset, records } = await tail.poll();
              if (reset) send("reset", {});
              if (records.length > 0) send("metrics", records);
              const status = JSON.stringify(await runStatus(opts.run));
              if (status !== lastStatus) {
                lastStatus = status;
                send("status", JSON.parse(status));
              }
              // A comment line now and then, so that a closed connection is noticed.
              if (!stopped) controller.enqueue(enc.encode(": tick\n\n"));
            } catch {
              stopped = true;
            }
            await new Promise((r) => setTimeout(r, pollMs));
          }
          try {
            controller.close();
          } catch {
            // already closed by the client
          }
        },
        cancel() {
          stopped = true;
        },
      });
      const headers = baseHeaders("text/event-stream; charset=utf-8");
      return new Response(req.method === "HEAD" ? null : stream, { headers });
    }
    if (path.startsWith("/run/")) {
      const file = await resolveInside(opts.run, path.slice("/run/".length));
      return file === null ? text(404, "not found") : fileResponse(file, req.method);
    }
    const file = routes.get(path);
    return file === undefined ? text(404, "not found") : fileResponse(file, req.method);
  });
}

/** Checks that `run` is a directory (the dashboard of a run that does not exist is a mistake). */
export async function checkRunDir(run: string): Promise<void> {
  try {
    if ((await Deno.stat(run)).isDirectory) return;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new UserError(
        `--run ${run}: not readable with this task's permissions (it reads inside the repository); for a run ` +
          `elsewhere: deno run --allow-read=${run},packages/web,runs/web --allow-net=127.0.0.1 ` +
          `packages/web/dashboard_cli.ts --run ${run}`,
      );
    }
    throw new UserError(`--run ${run}: no such directory`);
  }
  throw new UserError(`--run ${run}: not a directory`);
}
