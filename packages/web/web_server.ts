/**
 * The training page's server: the page, its bundles and the core's `.wasm`, the tokenizer and the
 * corpus sample, nothing else (a fixed table of routes, so no request names a path of its own).
 *
 * @module
 */
import { BUNDLE_FILES } from "./bundle.ts";
import type { CorpusSample } from "./corpus_sample.ts";
import { baseHeaders, fileResponse, listen, type ListenOptions, text } from "./serve.ts";

/** Options of {@link serveWeb}. */
export interface WebServerOptions extends ListenOptions {
  /** Where `deno task build:web` wrote the bundles. */
  bundleDir: string;
  /** The `tokenizer.model` the page tokenizes with. */
  tokenizer: string;
  /** The text the page trains on unless a file is dropped on it. */
  corpus: CorpusSample;
}

const PAGE = new URL("./page/", import.meta.url);

/**
 * Serves the training page.
 *
 * @example
 * ```ts ignore
 * const server = serveWeb({ port: 8417, bundleDir: "runs/web", tokenizer: "tok/tokenizer.model", corpus });
 * console.log(server.addr.port);
 * ```
 */
export function serveWeb(opts: WebServerOptions): Deno.HttpServer<Deno.NetAddr> {
  const corpus = new TextEncoder().encode(JSON.stringify(opts.corpus));
  const routes = new Map<string, string>([
    ["/", new URL("index.html", PAGE).pathname],
    ["/index.html", new URL("index.html", PAGE).pathname],
    ["/style.css", new URL("style.css", PAGE).pathname],
    ["/data/tokenizer.model", opts.tokenizer],
    ...BUNDLE_FILES.map((f) => [`/${f}`, `${opts.bundleDir}/${f}`] as [string, string]),
  ]);
  return listen(opts, (req, path) => {
    if (path === "/data/corpus.json") {
      return new Response(req.method === "HEAD" ? null : corpus, {
        headers: baseHeaders("application/json; charset=utf-8"),
      });
    }
    const file = routes.get(path);
    if (file === undefined) return text(404, "not found");
    return fileResponse(
      file,
      req.method,
      path === "/data/tokenizer.model" ? "application/octet-stream" : undefined,
    );
  });
}
