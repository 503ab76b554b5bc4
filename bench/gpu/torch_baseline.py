"""The PyTorch side of the GPU benchmark (bench/gpu/run.sh runs it beside bench.ts), at the same shapes:

- matmul: cuBLAS fp32 with TF32 off, n^3 (4096^3), in the three layouts of bench.ts, TFLOP/s;
- attention: torch SDPA (fp32, causal) forward and backward at B 4, T 2048, 32/4 heads, hd 64, ms, with
  the key/value heads expanded by repeat_interleave (inside the timed region, as a model does it) and
  the memory-efficient backend forced (`enable_gqa=True` in fp32 falls back to the slow math backend);
  which backend ran is reported;
- train: one TinyLlama-1.1B step in eager fp32 (forward, backward, clip_grad_norm_, torch.optim.AdamW)
  at the given micro-batch (ours), halved only when it does not fit (reported: the ratio then compares
  different micro-batches); transformers' LlamaForCausalLM (use_cache=False) when importable, else the
  same architecture written out below; SDPA forced to the efficient backend here too. tokens/s.

CUDA events time every part (median of repeats after a warm-up). Prints one JSON line per figure as soon
as it is measured (merged by report.ts; a kill keeps what was measured) and the whole result last. Out of
memory (torch.cuda.OutOfMemoryError or a RuntimeError saying so) is caught and reported. No network, no
weights: everything is random.

Usage: python3 bench/gpu/torch_baseline.py [--smoke] [--micro-batch 8] [--only matmul,attention,train]
"""

import argparse
import contextlib
import json
import math
import statistics
import sys


def emit(key, value):
    """One figure as a JSON line, at once."""
    print(json.dumps({key: value}), flush=True)


def is_oom(torch, e):
    """Whether an exception is CUDA running out of memory (older torch raises a plain RuntimeError)."""
    return isinstance(e, torch.cuda.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and "out of memory" in str(e).lower()
    )


def efficient_sdpa(torch):
    """A context forcing SDPA's memory-efficient backend, and its name; nullcontext when unavailable."""
    import contextlib

    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return (lambda: sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION)), "efficient (forced)"
    except ImportError:  # torch < 2.3
        return contextlib.nullcontext, "default (sdpa_kernel unavailable)"


def timed(torch, fn, repeats):
    """Median seconds of fn() over repeats, after one warm-up, with CUDA events."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def bench_matmul(torch, n, iters):
    x = torch.randn(n, n, device="cuda")
    w = torch.randn(n, n, device="cuda")
    out = torch.empty(n, n, device="cuda")
    layouts = {
        "forward": lambda: torch.matmul(x, w.t(), out=out),
        "backward_dx": lambda: out.addmm_(x, w),
        "backward_dw": lambda: out.addmm_(x.t(), x),
    }
    result = {"n": n}
    for name, op in layouts.items():

        def run():
            for _ in range(iters):
                op()

        seconds = timed(torch, run, 5)
        result[f"{name}_tflops"] = 2 * n**3 * iters / seconds / 1e12
        emit("matmul", {"n": n, f"{name}_tflops": result[f"{name}_tflops"]})
        print(f"torch matmul {name} {n}^3: {result[f'{name}_tflops']:.2f} TFLOP/s", file=sys.stderr)
    return result


def bench_attention(torch, s, iters):
    import torch.nn.functional as F

    b, t, h, hkv, hd = s["b"], s["tq"], s["nHead"], s["nKV"], s["headDim"]
    q = torch.randn(b, h, t, hd, device="cuda", requires_grad=True)
    k = torch.randn(b, hkv, t, hd, device="cuda", requires_grad=True)
    v = torch.randn(b, hkv, t, hd, device="cuda", requires_grad=True)
    dout = torch.randn(b, h, t, hd, device="cuda")
    rep = h // hkv
    forced, backend = efficient_sdpa(torch)

    def sdpa():
        return F.scaled_dot_product_attention(
            q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1), is_causal=True
        )

    try:
        with forced():
            sdpa()
    except RuntimeError as e:  # the efficient kernel refuses this shape or device: say so, use the default
        if is_oom(torch, e):
            raise
        forced, backend = contextlib.nullcontext, f"default (efficient refused: {str(e).splitlines()[0]})"
    print(f"torch SDPA backend: {backend}", file=sys.stderr)

    def fwd():
        with torch.no_grad(), forced():
            for _ in range(iters):
                sdpa()

    with forced():
        out = sdpa()

    def bwd():
        with forced():
            for _ in range(iters):
                torch.autograd.grad(out, (q, k, v), dout, retain_graph=True)

    f = timed(torch, fwd, 5) / iters
    emit("attention", {"shape": s, "forward_ms": f * 1e3, "gqa": "repeat_interleave", "sdpa_backend": backend})
    bw = timed(torch, bwd, 5) / iters
    print(f"torch SDPA ({backend}): forward {f * 1e3:.2f} ms, backward {bw * 1e3:.2f} ms", file=sys.stderr)
    return {
        "shape": s,
        "forward_ms": f * 1e3,
        "backward_ms": bw * 1e3,
        "gqa": "repeat_interleave",
        "sdpa_backend": backend,
    }


def llama(torch, cfg):
    """TinyLlama's architecture (Llama 2, GQA, untied head): transformers' class when present."""
    try:
        from transformers import LlamaConfig, LlamaForCausalLM

        try:  # newer transformers pass enable_gqa=True (math backend in fp32): expand the heads instead
            import transformers.integrations.sdpa_attention as hf_sdpa

            if hasattr(hf_sdpa, "use_gqa_in_sdpa"):
                hf_sdpa.use_gqa_in_sdpa = lambda *args, **kwargs: False
        except ImportError:
            pass

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
            use_cache=False,
            attn_implementation="sdpa",
        )
        model = LlamaForCausalLM(hf)

        def loss_fn(ids, targets):
            logits = model(input_ids=ids, use_cache=False).logits
            return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())

        return model, loss_fn, "transformers LlamaForCausalLM (sdpa)"
    except ImportError:
        pass
    import torch.nn as nn
    import torch.nn.functional as F

    C, H, KV, I = cfg["n_embd"], cfg["n_head"], cfg["n_query_groups"], cfg["intermediate_size"]
    hd = C // H

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(C))

        def forward(self, x):
            return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["norm_eps"]))

    def rope(x, cos, sin):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
        return x * cos + torch.cat((-x2, x1), -1) * sin

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = RMSNorm(), RMSNorm()
            self.q = nn.Linear(C, C, bias=False)
            self.k = nn.Linear(C, KV * hd, bias=False)
            self.v = nn.Linear(C, KV * hd, bias=False)
            self.o = nn.Linear(C, C, bias=False)
            self.gate = nn.Linear(C, I, bias=False)
            self.up = nn.Linear(C, I, bias=False)
            self.down = nn.Linear(I, C, bias=False)

        def forward(self, x, cos, sin):
            B, T, _ = x.shape
            h = self.ln1(x)
            q = rope(self.q(h).view(B, T, H, hd).transpose(1, 2), cos, sin)
            k = rope(self.k(h).view(B, T, KV, hd).transpose(1, 2), cos, sin)
            v = self.v(h).view(B, T, KV, hd).transpose(1, 2)
            k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
            x = x + self.o(a)
            h = self.ln2(x)
            return x + self.down(F.silu(self.gate(h)) * self.up(h))

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab_size"], C)
            self.blocks = nn.ModuleList(Block() for _ in range(cfg["n_layer"]))
            self.norm = RMSNorm()
            self.head = nn.Linear(C, cfg["vocab_size"], bias=False)

        def forward(self, ids):
            T = ids.shape[1]
            inv = 1.0 / (cfg["rope_base"] ** (torch.arange(0, hd, 2, device=ids.device).float() / hd))
            ang = torch.outer(torch.arange(T, device=ids.device).float(), inv)
            cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
            x = self.embed(ids)
            for blk in self.blocks:
                x = blk(x, cos, sin)
            return self.head(self.norm(x))

    model = Llama()

    def loss_fn(ids, targets):
        return F.cross_entropy(model(ids).flatten(0, 1), targets.flatten())

    return model, loss_fn, "built-in Llama (sdpa)"


def bench_train(torch, cfg, micro_batch, seq_len, steps):
    torch.manual_seed(0)
    model, loss_fn, impl = llama(torch, cfg)
    model = model.cuda()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    forced, backend = efficient_sdpa(torch)
    b = micro_batch
    while b >= 1:
        try:
            ids = torch.randint(0, cfg["vocab_size"], (b, seq_len), device="cuda")
            targets = torch.randint(0, cfg["vocab_size"], (b, seq_len), device="cuda")

            def step():
                opt.zero_grad(set_to_none=True)
                with forced():
                    loss = loss_fn(ids, targets)
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                return loss

            seconds = timed(torch, step, steps)
            tokens = b * seq_len
            print(
                f"torch train {impl} B {b} x T {seq_len}: {seconds * 1e3:.0f} ms/step, {tokens / seconds:.0f} tokens/s",
                file=sys.stderr,
            )
            return {
                "implementation": impl,
                "sdpa_backend": backend,
                "micro_batch": b,
                "requested_micro_batch": micro_batch,
                "same_micro_batch": b == micro_batch,
                "seq_len": seq_len,
                "params": params,
                "step_seconds": seconds,
                "tokens_per_sec": tokens / seconds,
                "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
            }
        except (torch.cuda.OutOfMemoryError, RuntimeError) as e:
            if not is_oom(torch, e):
                if forced is contextlib.nullcontext:
                    raise
                # The efficient backend refused the model's attention call: the default, said so.
                forced, backend = contextlib.nullcontext, f"default (efficient refused: {str(e).splitlines()[0]})"
                print(f"torch train: SDPA {backend}", file=sys.stderr)
                continue
            print(f"torch train B {b}: out of memory", file=sys.stderr)
            emit("train_tried", {str(b): "out of memory"})
            opt.zero_grad(set_to_none=True)
            ids = targets = None
            torch.cuda.empty_cache()
            b //= 2
    return {"error": "no micro-batch fits"}


TINYLLAMA = {
    "name": "tinyllama-1.1b",
    "vocab_size": 32000,
    "n_embd": 2048,
    "n_layer": 22,
    "n_head": 32,
    "n_query_groups": 4,
    "intermediate_size": 5632,
    "block_size": 2048,
    "norm_eps": 1e-5,
    "rope_base": 10000,
}
MICRO = dict(TINYLLAMA, name="micro-4l-4k", vocab_size=4096, n_embd=128, n_layer=4, n_head=4,
             n_query_groups=2, intermediate_size=344, block_size=128)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--only", default="matmul,attention,train")
    args = ap.parse_args()
    only = set(args.only.split(","))
    try:
        import torch
    except ImportError:
        emit("error", "torch is not installed")
        return
    if not torch.cuda.is_available():
        emit("error", "CUDA is not available")
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    result = {
        "backend": "torch",
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0),
        "tf32": False,
        "smoke": args.smoke,
    }
    for key in ("backend", "torch", "device", "tf32", "smoke"):
        emit(key, result[key])

    def guarded(key, fn):
        """fn()'s result, or the out-of-memory error (reported, not raised)."""
        try:
            result[key] = fn()
        except (torch.cuda.OutOfMemoryError, RuntimeError) as e:
            if not is_oom(torch, e):
                raise
            result[key] = {"error": "out of memory"}
            torch.cuda.empty_cache()
        emit(key, result[key])
    if "matmul" in only:
        guarded("matmul", lambda: bench_matmul(torch, 200 if args.smoke else 4096, 1 if args.smoke else 10))
    if "attention" in only:
        shape = (
            {"b": 1, "tq": 64, "kvLen": 64, "kvStride": 64, "nHead": 4, "nKV": 2, "headDim": 16}
            if args.smoke
            else {"b": 4, "tq": 2048, "kvLen": 2048, "kvStride": 2048, "nHead": 32, "nKV": 4, "headDim": 64}
        )
        guarded("attention", lambda: bench_attention(torch, shape, 1 if args.smoke else 5))
    if "train" in only:
        cfg = MICRO if args.smoke else TINYLLAMA
        seq = 32 if args.smoke else cfg["block_size"]
        guarded("train", lambda: bench_train(torch, cfg, args.micro_batch, seq, 1 if args.smoke else 3))
        if not math.isfinite(result["train"].get("tokens_per_sec", 0.0)):
            result["train"]["error"] = "non-finite timing"
            emit("train", result["train"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
