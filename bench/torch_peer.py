"""The PyTorch side of `deno task bench`, run on the same cores in the same run as ours.

Prints one JSON object on stdout:
  matmul_gflops: fp32 torch.matmul at N^3 (default 1024), best of several runs;
  train: {config_name: {tokens_per_sec, step_seconds, peak_rss_mb}} for transformers' LlamaForCausalLM
         (SDPA attention) with torch.optim.AdamW and clip_grad_norm_, the median step after two warm-ups.
Each training config runs in a fresh subprocess so that its peak RSS is its own.

Usage: python bench/torch_peer.py --threads 2 --configs '<json list>' [--steps 5] [--matmul-n 1024]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def matmul_gflops(n: int, repeats: int) -> float:
    import torch

    a = torch.randn(n, n)
    b = torch.randn(n, n)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def train_one(cfg: dict, steps: int, threads: int) -> dict:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    hf = LlamaConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["n_embd"],
        intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=cfg["n_layer"],
        num_attention_heads=cfg["n_head"],
        num_key_value_heads=cfg["n_query_groups"],
        max_position_embeddings=cfg["block_size"],
        rms_norm_eps=cfg["norm_eps"],
        rope_theta=cfg["rope_base"],
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    model = LlamaForCausalLM(hf)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=4e-4, betas=(0.9, 0.95), weight_decay=0.1)
    b, t = cfg["micro_batch"], cfg["seq_len"]
    g = torch.Generator().manual_seed(1)
    times = []
    for _ in range(steps + 2):
        ids = torch.randint(0, cfg["vocab_size"], (b, t + 1), generator=g)
        t0 = time.perf_counter()
        out = model(input_ids=ids[:, :-1], labels=None)
        loss = torch.nn.functional.cross_entropy(
            out.logits.reshape(-1, out.logits.shape[-1]), ids[:, 1:].reshape(-1)
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    step = statistics.median(times[2:])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tokens_per_sec": b * t / step, "step_seconds": step, "peak_rss_mb": rss_mb}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--configs", default="[]")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--matmul-n", type=int, default=1024)
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one is not None:
        print(json.dumps(train_one(json.loads(a.one), a.steps, a.threads)))
        return
    import torch

    torch.set_num_threads(a.threads)
    result = {
        "torch_version": torch.__version__,
        "threads": a.threads,
        "matmul_n": a.matmul_n,
        "matmul_gflops": matmul_gflops(a.matmul_n, 10),
        "train": {},
    }
    for cfg in json.loads(a.configs):
        out = subprocess.run(
            [sys.executable, __file__, "--threads", str(a.threads), "--steps", str(a.steps),
             "--one", json.dumps(cfg)],
            check=True, capture_output=True, text=True,
        )
        result["train"][cfg["name"]] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
