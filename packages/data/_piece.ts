// A piece of an input file as the reader cuts it (raw bytes, cut only at line ends), and the parsing that
// turns it into documents. The parsing runs in prepare's workers, so this module imports nothing that a
// worker does not need (no decompressors, no parquet).
import type { DocumentItem, SkipReason } from "./read_documents.ts";

/**
 * `lines`: whole JSON lines of one file, ending with `\n` unless `final` (the file's last bytes, where
 * the text after the last `\n` is a line too unless it is empty or `\r`). `whole`: a `.txt` file, one
 * document. `values`: parquet cells, `null` where a cell is not a string. Bytes hold no leading BOM (the
 * reader drops the one a file may start with, as `TextDecoder` would), so a BOM inside is kept.
 */
export type Piece =
  | { kind: "lines"; bytes: Uint8Array<ArrayBuffer>; final: boolean }
  | { kind: "whole"; bytes: Uint8Array<ArrayBuffer> }
  | { kind: "values"; values: (string | null)[] };

/** The order of skip reasons in a batch result's codes (code = index + 1; 0 is a document). */
export const SKIP_REASONS: readonly SkipReason[] = [
  "missing_field",
  "invalid_json",
  "empty",
  "blank_line",
  "invalid_utf8",
];

// ignoreBOM: the reader already dropped the file's leading BOM; a BOM later in a file is text. Fatal:
// text with invalid UTF-8 is not a document (replacement characters would be trained on as if written).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

/** The text of `bytes`, or undefined when they are not valid UTF-8. */
function decodeStrict(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The size a piece counts for when batches are filled: bytes, or UTF-16 units for parquet strings. */
export function pieceSize(p: Piece): number {
  if (p.kind !== "values") return p.bytes.length;
  let n = 0;
  for (const v of p.values) n += v === null ? 1 : v.length;
  return n;
}

/**
 * A rule that drops a JSON record whose field (a dotted path such as `meta.redpajama_set_name`) holds
 * exactly `value`: `--exclude meta.redpajama_set_name=RedPajamaGithub`.
 */
export interface ExcludeRule {
  path: string[];
  value: string;
}

/** The records of a piece, in order; JSON records matching `excludes[k]` become `{ excluded: k }`. */
export function parsePiece(p: Piece, excludes: readonly ExcludeRule[] = []): DocumentItem[] {
  switch (p.kind) {
    case "whole": {
      const text = decodeStrict(p.bytes);
      if (text === undefined) return [{ skip: "invalid_utf8" }];
      return [text.trim() === "" ? { skip: "empty" } : { text }];
    }
    case "values":
      return p.values.map((v): DocumentItem =>
        v === null ? { skip: "missing_field" } : v.trim() === "" ? { skip: "empty" } : { text: v }
      );
    case "lines": {
      // A piece ends at a "\n" byte, which never occurs inside a UTF-8 sequence, so decoding pieces one by
      // one gives the same text as decoding the whole stream. The whole piece at once is the fast path;
      // only a piece with invalid UTF-8 is decoded line by line, to drop just the lines that hold it.
      const whole = decodeStrict(p.bytes);
      const lines: (string | undefined)[] = whole !== undefined ? whole.split("\n") : splitBytes(p.bytes);
      const tail = lines.pop()!;
      if (!p.final && tail !== "") throw new Error("parsePiece: a non-final piece must end with a newline");
      const items = lines.map((l) => parseLine(l, excludes));
      if (tail !== "" && tail !== "\r") items.push(parseLine(tail, excludes));
      return items;
    }
  }
}

/** The lines of `bytes` (split at "\n" bytes), each decoded on its own: undefined where invalid. */
function splitBytes(bytes: Uint8Array): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let start = 0;
  while (true) {
    const nl = bytes.indexOf(0x0a, start);
    out.push(decodeStrict(bytes.subarray(start, nl < 0 ? bytes.length : nl)));
    if (nl < 0) return out;
    start = nl + 1;
  }
}

function parseLine(line: string | undefined, excludes: readonly ExcludeRule[]): DocumentItem {
  if (line === undefined) return { skip: "invalid_utf8" };
  if (line.trim() === "") return { skip: "blank_line" };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { skip: "invalid_json" };
  }
  if (typeof value !== "object" || value === null) return { skip: "missing_field" };
  const obj = value as Record<string, unknown>;
  for (let k = 0; k < excludes.length; k++) {
    let v: unknown = obj;
    for (const key of excludes[k].path) {
      v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[key] : undefined;
    }
    if (v === excludes[k].value) return { excluded: k };
  }
  const text = typeof obj.text === "string"
    ? obj.text
    : typeof obj.content === "string"
    ? obj.content
    : undefined;
  if (text === undefined) return { skip: "missing_field" };
  return text.trim() === "" ? { skip: "empty" } : { text };
}
