/**
 * What both servers share: binding (127.0.0.1 unless a host is given, with a warning then), the headers
 * of every response (cross-origin isolation, so that the WASM core's threads get shared memory; no
 * sniffing; no caching), read-only methods, and the resolution of a request path inside a directory
 * that refuses anything that could leave it.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** The host both servers bind unless told otherwise. */
export const LOOPBACK = "127.0.0.1";

/** Content types by file extension. */
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  jsonl: "text/plain; charset=utf-8",
  wasm: "application/wasm",
  png: "image/png",
  txt: "text/plain; charset=utf-8",
};

/** The content type of a file name (binary when unknown). */
export function contentType(name: string): string {
  return TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
}

/** Headers every response carries. */
export function baseHeaders(type?: string): Headers {
  const h = new Headers({
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
  });
  if (type) h.set("content-type", type);
  return h;
}

/** A plain-text response. */
export function text(status: number, body: string): Response {
  return new Response(body + "\n", { status, headers: baseHeaders("text/plain; charset=utf-8") });
}

/** The bytes of a file as a response, or 404 when it cannot be read. */
export async function fileResponse(
  path: string,
  method: string,
  type = contentType(path),
): Promise<Response> {
  try {
    const bytes = await Deno.readFile(path);
    return new Response(method === "HEAD" ? null : bytes, { headers: baseHeaders(type) });
  } catch {
    return text(404, "not found");
  }
}

/**
 * The real path of `relative` (a URL path below a route, still percent-encoded) inside `root`, or null
 * when it is not a plain relative path to a file whose real path lies inside root's real path: `..`
 * segments, absolute paths, backslashes, NUL, encoded slashes and symlinks that lead out all give null.
 *
 * @example
 * ```ts
 * import { resolveInside } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hi");
 * console.log(await resolveInside(dir, "a.txt") !== null, await resolveInside(dir, "../etc/passwd")); // true null
 * ```
 */
export async function resolveInside(root: string, relative: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return null;
  }
  if (decoded === "" || decoded.startsWith("/") || /[\\\0]/.test(decoded)) return null;
  const parts = decoded.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) return null;
  try {
    const realRoot = await Deno.realPath(root);
    const real = await Deno.realPath(`${realRoot}/${parts.join("/")}`);
    if (!real.startsWith(realRoot + "/")) return null;
    if (!(await Deno.stat(real)).isFile) return null;
    return real;
  } catch {
    return null;
  }
}

/** Where and how a server listens. */
export interface ListenOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Messages for the user (default: stderr). */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * Serves `handler` for GET and HEAD only (anything else is 405), on 127.0.0.1 unless `host` says
 * otherwise, which is warned about.
 */
export function listen(
  opts: ListenOptions,
  handler: (req: Request, path: string) => Promise<Response> | Response,
): Deno.HttpServer<Deno.NetAddr> {
  const log = opts.log ?? ((s: string) => console.error(s));
  const host = opts.host ?? LOOPBACK;
  if (host !== LOOPBACK && host !== "localhost" && host !== "::1") {
    log(`warning: serving on ${host}: anyone who can reach this machine on that address can open the page`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new UserError(`--port ${opts.port}: must be an integer from 0 to 65535`);
  }
  try {
    return Deno.serve({
      hostname: host,
      port: opts.port,
      signal: opts.signal,
      onListen: () => {},
    }, async (req) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        const r = text(405, "method not allowed");
        r.headers.set("allow", "GET, HEAD");
        return r;
      }
      // The raw path, still percent-encoded: decoding is each route's business.
      const raw = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2)).split(/[?#]/)[0];
      return await handler(req, raw);
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) throw new UserError(`${host}:${opts.port} is already in use`);
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new UserError(`no permission to listen on ${host}:${opts.port} (${(e as Error).message})`);
    }
    throw e;
  }
}
