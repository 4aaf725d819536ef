"""Sampling codes from the AR transformer: classifier-free guidance on the logits, temperature, top-k.

Each image draws its randomness from its own stream, once: `tokens` uniforms u_0 .. u_63, and code i is the
inverse CDF of its (guided, tempered, truncated) distribution at u_i, so the codes depend on the image's
stream and prompt alone, never on which other rows share the batch. With guidance s,

    logits = uncond + s * (cond - uncond)        (s = 1: cond alone, s = 0: uncond alone, one half computed)

where uncond is the model's output under the empty caption (trained in by 10 % caption dropout). The sampled
code is appended to both halves. With the KV cache the prefix runs once and each new code costs one position;
without it the whole sequence is run again for every code (the same numbers, T times the work).
"""
from __future__ import annotations

from typing import Callable

import torch

from models.ar.transformer import ARTransformer, KVCache

MAX_TEMPERATURE = 10.0


def guide(logits: torch.Tensor, scale: float, rows: int) -> torch.Tensor:
    """logits [rows or 2 rows, V] -> [rows, V]; with 2 rows the first half is conditional, the second not."""
    if logits.shape[0] == rows:  # guidance 0 or 1: only the half the formula returns was computed
        return logits
    cond, uncond = logits[:rows], logits[rows:]
    return uncond + scale * (cond - uncond)


def pick(logits: torch.Tensor, temperature: float, top_k: int, uniforms: torch.Tensor) -> torch.Tensor:
    """logits [b,V], uniforms [b] in [0,1) -> codes [b]: the inverse CDF of softmax(logits / T) over the top k."""
    logits = logits.double() / temperature  # float64: a CDF that sums the same way in every batch
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # [b,1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    cdf = torch.softmax(logits, dim=-1).cumsum(-1)  # [b,V]
    target = (uniforms.double() * cdf[:, -1]).unsqueeze(1)  # [b,1]
    return torch.searchsorted(cdf, target, right=True).squeeze(1).clamp(max=logits.shape[-1] - 1)  # [b]


def halves(guidance: float) -> tuple[bool, bool]:
    """(conditional rows, unconditional rows) that guidance needs."""
    return guidance != 0, guidance != 1


@torch.no_grad()
def decode(model: ARTransformer, cond: tuple[torch.Tensor, torch.Tensor], uncond: tuple[torch.Tensor, torch.Tensor],
           uniforms: torch.Tensor, guidance: float, temperature: float = 1.0, top_k: int = 0, kv_cache: bool = True,
           on_code: Callable[[int, torch.Tensor], None] | None = None, trace: list | None = None) -> torch.Tensor:
    """cond: (states [b,L,D], pooled [b,E]); uncond: (states [1,L,D], pooled [1,E]) of the empty caption;
    uniforms [b,T] -> codes [b,T]. on_code(i, codes so far) after each code; trace collects the guided logits."""
    b, T = uniforms.shape
    use_cond, use_uncond = halves(guidance)
    states = torch.cat(([cond[0]] if use_cond else []) + ([uncond[0].expand(b, -1, -1)] if use_uncond else []))
    pooled = torch.cat(([cond[1]] if use_cond else []) + ([uncond[1].expand(b, -1)] if use_uncond else []))
    prefix = model.prefix(states, pooled)  # [R,L+1,W], R = b or 2b
    repeat = prefix.shape[0] // b
    cache = KVCache() if kv_cache else None
    codes = torch.empty(b, 0, dtype=torch.long, device=uniforms.device)
    x = prefix
    for i in range(T):
        if kv_cache:
            logits = model.run(x, cache)[:, -1]  # [R,V]: only the new positions are run
        else:  # the whole sequence again
            logits = model.run(torch.cat([prefix, model.embed_codes(codes.repeat(repeat, 1), 0)], dim=1))[:, -1]
        logits = guide(logits, guidance, b)  # [b,V]
        if trace is not None:
            trace.append(logits)
        code = pick(logits, temperature, top_k, uniforms[:, i])  # [b]
        codes = torch.cat([codes, code.unsqueeze(1)], dim=1)  # [b,i+1]
        x = model.embed_codes(code.repeat(repeat).unsqueeze(1), i)  # [R,1,W]: the next input, both halves
        if on_code is not None:
            on_code(i, codes)
    return codes
