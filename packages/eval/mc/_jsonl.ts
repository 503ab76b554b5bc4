/**
 * JSON Lines input for the multiple-choice evaluation: every line an object, every problem a
 * {@link UserError} naming the file, the line and the field.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** One parsed line of a JSONL file, with accessors that check each field's type. */
export class JsonlRecord {
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  readonly value: Readonly<Record<string, unknown>>;

  constructor(file: string, line: number, value: Readonly<Record<string, unknown>>) {
    this.file = file;
    this.line = line;
    this.value = value;
  }

  /** `file:line`, the prefix of every message about this record. */
  get where(): string {
    return `${this.file}:${this.line}`;
  }

  /** Throws the one-line error about `field`. */
  fail(field: string, message: string): never {
    throw new UserError(`${this.where}: field "${this.qualify(field)}": ${message}`);
  }

  /** The raw value of a field that must be present (null counts as missing). */
  get(field: string): unknown {
    const v = this.value[field];
    if (v === undefined || v === null) {
      throw new UserError(`${this.where}: missing field "${this.qualify(field)}"`);
    }
    return v;
  }

  /** The field's name in messages (`parent.field` inside a nested record). */
  protected qualify(field: string): string {
    return field;
  }

  /** True when the field is present and not null. */
  has(field: string): boolean {
    return this.value[field] !== undefined && this.value[field] !== null;
  }

  string(field: string): string {
    const v = this.get(field);
    if (typeof v !== "string") this.fail(field, `expected a string, got ${describe(v)}`);
    return v;
  }

  /** A non-empty array of strings (`field[i]` named on error). */
  strings(field: string, value: unknown = this.get(field)): string[] {
    if (!Array.isArray(value)) this.fail(field, `expected an array of strings, got ${describe(value)}`);
    if (value.length === 0) this.fail(field, "is empty");
    value.forEach((s, i) => {
      if (typeof s !== "string") this.fail(`${field}[${i}]`, `expected a string, got ${describe(s)}`);
    });
    return value as string[];
  }

  /** An integer, also written as a string of digits (as HellaSwag's labels are). */
  index(field: string, value: unknown = this.get(field)): number {
    if (typeof value === "number" && Number.isSafeInteger(value)) return value;
    if (typeof value === "string" && /^\s*\d+\s*$/.test(value)) return Number(value);
    this.fail(field, `expected an integer, got ${describe(value)}`);
  }

  /** An object field (ARC's and OBQA's `choices`). */
  object(field: string): JsonlRecord {
    const v = this.get(field);
    if (typeof v !== "object" || Array.isArray(v)) this.fail(field, `expected an object, got ${describe(v)}`);
    return new NestedRecord(this, this.qualify(field), v as Record<string, unknown>);
  }

  /** Checks `0 <= label < count`. */
  checkLabel(field: string, label: number, count: number): number {
    if (label < 0 || label >= count) {
      this.fail(field, `${label} is out of range for ${count} choices`);
    }
    return label;
  }
}

/** A record inside a record: its fields are named `parent.field` in messages. */
class NestedRecord extends JsonlRecord {
  readonly #prefix: string;

  constructor(parent: JsonlRecord, prefix: string, value: Record<string, unknown>) {
    super(parent.file, parent.line, value);
    this.#prefix = prefix;
  }

  protected override qualify(field: string): string {
    return `${this.#prefix}.${field}`;
  }
}

/** A short description of a JSON value for messages: its type, and its text when short. */
function describe(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  const text = JSON.stringify(v);
  return text.length <= 40 ? `${typeof v} ${text}` : typeof v;
}

/**
 * Reads a JSON Lines file: one JSON object per line; blank lines are skipped. A missing file, invalid
 * UTF-8, a line that is not JSON or not an object is a {@link UserError} naming the file and line.
 *
 * @example
 * ```ts
 * import { readJsonl } from "./_jsonl.ts";
 * const records = await readJsonl("tests/fixtures/eval/mc.jsonl");
 * console.log(records[0].string("context"));
 * ```
 */
export async function readJsonl(path: string): Promise<JsonlRecord[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UserError(`${path}: not found`);
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UserError(`${path}: not valid UTF-8`);
  }
  const records: JsonlRecord[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith("\r") ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${path}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new UserError(`${path}:${i + 1}: expected a JSON object, got ${describe(value)}`);
    }
    records.push(new JsonlRecord(path, i + 1, value as Record<string, unknown>));
  }
  if (records.length === 0) throw new UserError(`${path}: no items`);
  return records;
}
