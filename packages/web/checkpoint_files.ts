/**
 * A model as the three files of a Hugging Face checkpoint, made in memory for a page to download:
 * `config.json` (the checkpoint package's {@link configToHf}), `model.safetensors` (F32, tensors in name
 * order, header padded to 8 bytes: the layout `writeSafetensors` writes to disk) and the run's
 * `tokenizer.model`. `deno task eval --checkpoint DIR` reads the directory they are saved into.
 *
 * @module
 */
import { configToHf, encode } from "@tinyllama-ts/checkpoint";
import type { Model } from "@tinyllama-ts/model";

/** One file of a checkpoint. */
export interface CheckpointFile {
  name: string;
  bytes: Uint8Array;
}

/**
 * The safetensors bytes of named F32 tensors.
 *
 * @example
 * ```ts
 * import { safetensorsBytes } from "./mod.ts";
 * const bytes = safetensorsBytes([{ name: "x", shape: [2], data: new Float32Array([1, 2]) }]);
 * console.log(bytes.length % 8); // 0
 * ```
 */
export function safetensorsBytes(
  tensors: readonly { name: string; shape: readonly number[]; data: Float32Array }[],
): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let off = 0;
  for (const t of sorted) {
    const bytes = t.data.length * 4;
    header[t.name] = { dtype: "F32", shape: [...t.shape], data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of sorted) {
    out.set(encode(t.data, "F32"), at);
    at += t.data.length * 4;
  }
  return out;
}

/**
 * `config.json`, `model.safetensors` and `tokenizer.model` of `model` (parameters read from its backend).
 *
 * @example
 * ```ts ignore
 * const files = await checkpointFiles(model, tokenizerBytes, { bosId: 1, eosId: 2 });
 * ```
 */
export async function checkpointFiles(
  model: Model,
  tokenizerModel: Uint8Array,
  ids: { bosId: number; eosId: number },
): Promise<CheckpointFile[]> {
  const tensors = [];
  for (let i = 0; i < model.names.length; i++) {
    tensors.push({ name: model.names[i], shape: model.shapes[i], data: await model.readParam(i) });
  }
  const config = configToHf(model.config, { bosTokenId: ids.bosId, eosTokenId: ids.eosId });
  return [
    { name: "config.json", bytes: new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n") },
    { name: "model.safetensors", bytes: safetensorsBytes(tensors) },
    { name: "tokenizer.model", bytes: tokenizerModel },
  ];
}
