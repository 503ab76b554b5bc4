/**
 * The training page's worker: picks the backend (WebGPU when the browser gives an adapter, else the
 * threaded WASM core, else the WASM core on this thread alone), then runs a {@link TrainingSession}
 * step after step, between steps answering pause, sample and checkpoint requests. Training runs here,
 * not on the page's thread, because the WASM core's threads wait on shared memory, which a page's
 * main thread may not do, and so that the page stays responsive.
 *
 * @module
 */
import type { Backend } from "@tinyllama-ts/backend";
import { createBackend } from "@tinyllama-ts/backends";
import { resolveConfig } from "@tinyllama-ts/model";
import { TrainingSession } from "../session.ts";
import { unaliasedBackend } from "../unaliased_backend.ts";
import type { FromWorker, ToWorker } from "./protocol.ts";

/** The worker's global scope, as far as this file uses it. */
const scope = self as unknown as {
  postMessage(m: FromWorker): void;
  addEventListener(type: "message", f: (e: MessageEvent<ToWorker>) => void): void;
};
const post = (m: FromWorker) => scope.postMessage(m);

let session: TrainingSession | null = null;
let paused = false;
let resume: (() => void) | null = null;
// Steps, samples and saves use one model: they run one after another, never interleaved.
let chain: Promise<unknown> = Promise.resolve();
function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const next = chain.then(work);
  chain = next.catch(() => {});
  return next;
}

async function pickBackend(
  choice: ToWorker & { type: "start" },
): Promise<{ backend: Backend; note: string }> {
  const notes: string[] = [];
  if (choice.backend === "auto" || choice.backend === "webgpu") {
    const gpu = (navigator as { gpu?: unknown }).gpu;
    if (!gpu) notes.push("no WebGPU in this browser");
    else {
      try {
        // Dawn refuses a buffer bound twice when one binding is writable: in-place ops read a copy.
        return { backend: unaliasedBackend(await createBackend("webgpu")), note: notes.join("; ") };
      } catch (e) {
        notes.push(`WebGPU unavailable (${(e as Error).message})`);
      }
    }
    if (choice.backend === "webgpu") throw new Error(notes.join("; "));
  }
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  let threads = 1;
  if (choice.backend === "wasm-single") notes.push("single thread asked for");
  else if (!isolated) notes.push("the page is not cross-origin isolated, so no shared memory for threads");
  else threads = Math.max(1, navigator.hardwareConcurrency ?? 1);
  return { backend: await createBackend("wasm", { threads }), note: notes.join("; ") };
}

async function start(msg: ToWorker & { type: "start" }): Promise<void> {
  const { backend, note } = await pickBackend(msg);
  session = TrainingSession.create(backend, {
    config: await resolveConfig(msg.preset),
    hparams: msg.hparams,
    tokenizerModel: msg.tokenizerModel,
    sources: msg.sources,
  });
  const hp = session.hparams;
  post({
    type: "ready",
    backend: backend.info.name,
    device: backend.info.device,
    note,
    sourceTokens: session.sourceTokens,
    maxSteps: hp.maxSteps,
    stepTokens: hp.globalBatchSize * hp.seqLen,
  });
  const s = session;
  while (!s.done) {
    if (paused) await new Promise<void>((r) => resume = r);
    post({ type: "step", record: await exclusive(() => s.step()) });
    // A macrotask turn, so that the page's messages are handled between steps.
    await new Promise((r) => setTimeout(r, 0));
  }
  post({ type: "done" });
}

scope.addEventListener("message", (e) => {
  const msg = e.data;
  const fail = (err: unknown, id?: number) =>
    post({ type: "error", message: (err as Error)?.message ?? String(err), id });
  switch (msg.type) {
    case "start":
      start(msg).catch((err) => fail(err));
      break;
    case "pause":
      paused = true;
      break;
    case "resume":
      paused = false;
      resume?.();
      resume = null;
      break;
    case "sample":
      if (!session) return fail(new Error("not started"), msg.id);
      exclusive(() => session!.sample(msg.prompt, { maxNewTokens: msg.maxNewTokens }))
        .then((text) => post({ type: "sample", id: msg.id, text }), (err) => fail(err, msg.id));
      break;
    case "checkpoint":
      if (!session) return fail(new Error("not started"), msg.id);
      exclusive(() => session!.checkpoint()).then(
        (files) => post({ type: "checkpoint", id: msg.id, files }),
        (err) => fail(err, msg.id),
      );
      break;
  }
});
