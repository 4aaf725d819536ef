"""A decoder-only transformer over image codes, prefixed by the caption (the seed's other paradigm: VQ tokens +
an autoregressive transformer, as in DALL-E, Parti and LlamaGen).

The sequence is [text prefix; start; code_0 .. code_62]: the text encoder's token states projected to the
width (L positions), a start token made from the pooled text vector, then the codes of the 8x8 grid in raster
order. Attention is causal over the whole sequence; the output at position L + i predicts code i, so one
teacher-forced pass gives all 64 next-code distributions. Sampling keeps each layer's keys and values
(`KVCache`): the prefix is run once, then every new code costs one position instead of the whole sequence.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F


@dataclasses.dataclass
class ARConfig:
    vocab: int = 1000  # codebook size of the tokenizer (set from it when the model is built)
    tokens: int = 64  # image codes per image: the 8x8 grid in raster order
    text_len: int = 24  # the text encoder's context length: prefix positions
    text_width: int = 64  # the text encoder's token-state width
    pooled_dim: int = 64  # the text encoder's pooled vector size
    width: int = 256  # residual stream width
    depth: int = 6  # transformer blocks
    heads: int = 4  # attention heads (width / heads per head)
    mlp_ratio: float = 4.0  # hidden width of each MLP over the residual width


TRANSFORMER_CONFIGS = {
    "tiny": ARConfig(vocab=256, text_width=16, pooled_dim=16, width=32, depth=2, heads=2),  # tests
    "small": ARConfig(width=192, depth=6, heads=6),  # the shipped `ar`
}


class KVCache:
    """Each layer's keys and values so far, [R,H,T,d] per layer; `extend` appends the new positions."""

    def __init__(self):
        self.layers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def extend(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if layer in self.layers:
            past_k, past_v = self.layers[layer]
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)  # [R,H,T_past+T,d]
        self.layers[layer] = (k, v)
        return k, v

    def length(self, layer: int) -> int:
        """Positions held for `layer` so far."""
        return self.layers[layer][0].shape[2] if layer in self.layers else 0


class SelfAttention(torch.nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(width, 3 * width)
        self.proj = torch.nn.Linear(width, width)

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        B, T, W = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, W // self.heads).permute(2, 0, 3, 1, 4)  # 3 x [B,H,T,d]
        past = cache.length(layer) if cache is not None else 0
        if cache is not None:
            k, v = cache.extend(layer, k, v)  # [B,H,past+T,d]
        if past and T > 1:
            raise ValueError("the cache takes several new positions only when it is empty (the prefix)")
        # a fresh sequence is causal; one new position may see every cached one
        y = F.scaled_dot_product_attention(q, k, v, is_causal=past == 0 and T > 1)  # [B,H,T,d]
        return self.proj(y.transpose(1, 2).reshape(B, T, W))  # [B,T,W]


class Block(torch.nn.Module):
    """Pre-LayerNorm transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, config: ARConfig):
        super().__init__()
        hidden = int(config.width * config.mlp_ratio)
        self.norm1 = torch.nn.LayerNorm(config.width)
        self.attention = SelfAttention(config.width, config.heads)
        self.norm2 = torch.nn.LayerNorm(config.width)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(config.width, hidden), torch.nn.GELU(approximate="tanh"),
                                       torch.nn.Linear(hidden, config.width))

    def forward(self, x: torch.Tensor, cache: KVCache | None, layer: int) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), cache, layer)  # [B,T,W]
        return x + self.mlp(self.norm2(x))


class ARTransformer(torch.nn.Module):
    def __init__(self, config: ARConfig):
        super().__init__()
        self.config = config
        W = config.width
        self.text_in = torch.nn.Linear(config.text_width, W)  # text token states -> prefix positions
        self.start = torch.nn.Linear(config.pooled_dim, W)  # pooled text vector -> the start token
        self.token_embedding = torch.nn.Embedding(config.vocab, W)
        self.position = torch.nn.Parameter(torch.zeros(1, config.text_len + config.tokens, W))  # learned, absolute
        self.blocks = torch.nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = torch.nn.LayerNorm(W)
        self.head = torch.nn.Linear(W, config.vocab, bias=False)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """GPT-2's: N(0, 0.02) everywhere, residual projections scaled by 1/sqrt(2 depth), zero biases."""
        for module in self.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                torch.nn.init.normal_(module.weight, std=0.02)
                if getattr(module, "bias", None) is not None:
                    torch.nn.init.zeros_(module.bias)
        for block in self.blocks:
            for projection in (block.attention.proj, block.mlp[2]):
                torch.nn.init.normal_(projection.weight, std=0.02 / math.sqrt(2 * self.config.depth))
        torch.nn.init.normal_(self.position, std=0.02)

    def prefix(self, states: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """states [B,L,D], pooled [B,E] -> [B,L+1,W]: the text prefix and the start token, with positions."""
        L = states.shape[1]
        x = torch.cat([self.text_in(states), self.start(pooled).unsqueeze(1)], dim=1)  # [B,L+1,W]
        return x + self.position[:, :L + 1]

    def embed_codes(self, codes: torch.Tensor, first: int) -> torch.Tensor:
        """codes [B,T] holding codes first .. first+T-1 -> their inputs [B,T,W] (they sit after the start token)."""
        start = self.config.text_len + 1 + first
        return self.token_embedding(codes) + self.position[:, start:start + codes.shape[1]]

    def run(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Inputs [B,T,W] (after what the cache holds, if any) -> next-code logits [B,T,V]."""
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        return self.head(self.norm(x))

    def forward(self, states: torch.Tensor, pooled: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: states [B,L,D], pooled [B,E], codes [B,64] -> logits [B,64,V], row i predicting code i."""
        x = torch.cat([self.prefix(states, pooled), self.embed_codes(codes[:, :-1], 0)], dim=1)  # [B,L+64,W]
        return self.run(x)[:, states.shape[1]:]  # positions L .. L+63
