"""The PyTorch peer of bench/one_b_bench.ts: transformers' LlamaForCausalLM on the same TinyLlama-1.1B
checkpoint, the same prompt and the same threads: prefill tokens/s (the prompt in one forward, filling
the cache) and decode tokens/s (greedy, one token a forward with the cache), and the peak RSS of the
process (loading included). Prints one JSON object.

    python bench/one_b_peer.py --checkpoint DIR --dtype float32|bfloat16 --threads 2 \
        --prompt-ids 1,2,3 --new-tokens 128

Measured with torch 2.15.0 and transformers 5.25.0.
"""

import argparse
import json
import resource
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--new-tokens", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint, dtype=dtype).eval()
    load = time.perf_counter() - t0
    ids = torch.tensor([[int(x) for x in args.prompt_ids.split(",")]])
    new_ids = []
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=True)
        prefill = time.perf_counter() - t0
        past = out.past_key_values
        t0 = time.perf_counter()
        for _ in range(args.new_tokens):
            nxt = out.logits[:, -1].argmax(-1)
            new_ids.append(int(nxt))
            out = model(input_ids=nxt[:, None], past_key_values=past, use_cache=True)
            past = out.past_key_values
        decode = time.perf_counter() - t0
    print(json.dumps({
        "dtype": args.dtype,
        "threads": args.threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "load_seconds": load,
        "prefill_tokens_per_sec": ids.shape[1] / prefill,
        "decode_tokens_per_sec": args.new_tokens / decode,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "greedy_ids": new_ids,
    }))


if __name__ == "__main__":
    main()
