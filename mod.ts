/**
 * tinyllama-ts: the TinyLlama pretraining system on Deno. Each package is re-exported as a namespace;
 * import a package directly (`@tinyllama-ts/model`, …) to take only what you need.
 *
 * @example
 * ```ts
 * import { model, optim } from "./mod.ts";
 * const cfg = await model.resolveConfig("tinyllama-1.1b");
 * const lr = optim.cosineLr(100, { lr: 4e-4, minLr: 4e-5, warmupSteps: 2000, maxSteps: 1_430_000 });
 * console.log(cfg.n_layer, lr);
 * ```
 * @module
 */
export * as cli from "@tinyllama-ts/cli";
export * as tokenizer from "@tinyllama-ts/tokenizer";
export * as data from "@tinyllama-ts/data";
export * as model from "@tinyllama-ts/model";
export * as optim from "@tinyllama-ts/optim";
export * as trainer from "@tinyllama-ts/trainer";
