#!/usr/bin/env python3
"""Hugging Face tokenizers, the peer of bench/tokenizer_bench.ts: encodes a JSON list of documents
with one tokenizer.json on one thread, one document per `encode` call, and prints one JSON line:
the encode seconds of each round (a freshly loaded tokenizer each round, so its word cache starts
empty, as ours does) and the ids of the first round.

    python3 bench/tokenizers_peer.py TOKENIZER_JSON DOCS_JSON ROUNDS [--no-ids]
"""

import json
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def main():
    path, docs_path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    docs = json.load(open(docs_path, encoding="utf-8"))
    seconds = []
    first = None
    for r in range(rounds):
        tok = Tokenizer.from_file(path)
        t0 = time.perf_counter()
        ids = [tok.encode(d, add_special_tokens=False).ids for d in docs]
        seconds.append(time.perf_counter() - t0)
        if first is None:
            first = ids
    if "--no-ids" in sys.argv[4:]:
        first = None
    print(json.dumps({"tokenizers": tokenizers.__version__, "seconds": seconds, "ids": first}))


if __name__ == "__main__":
    main()
