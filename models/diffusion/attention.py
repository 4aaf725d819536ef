"""Multi-head attention with nn.MultiheadAttention's parameters, initialisation and results, batch-first all
the way to PyTorch's fused scaled_dot_product_attention.

nn.MultiheadAttention transposes batch-first inputs to [L, B, D] views and projects those views; on CPU the
cross-attention's projections then ran as batched matmuls, the DiT's slowest kernel (17 % of its time).
Here every projection is one plain matmul. The parameter names are MultiheadAttention's, so every DiT
checkpoint loads as it is, and a network built from one seed starts from the same weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, kdim: int | None = None):
        super().__init__()
        kdim = kdim or hidden
        self.heads = heads
        self.same_width = kdim == hidden
        if self.same_width:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden, hidden))  # q, k, v stacked
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(hidden, hidden))
            self.k_proj_weight = nn.Parameter(torch.empty(hidden, kdim))
            self.v_proj_weight = nn.Parameter(torch.empty(hidden, kdim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * hidden))
        self.out_proj = nn.Linear(hidden, hidden)  # first, as MultiheadAttention: it draws from the RNG first
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self.same_width:
            nn.init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                nn.init.xavier_uniform_(weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = False) -> tuple[torch.Tensor, None]:
        # query [B,T,D], key and value [B,S,kdim], key_padding_mask [B,S] (True: ignore that key)
        if need_weights:
            raise ValueError("Attention computes no attention weights (the fused kernel does not form them)")
        q, k, v = self._project(query, key, value)  # [B,H,T,d], [B,H,S,d], [B,H,S,d]
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]  # [B,1,1,S]: True attends
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [B,H,T,d]
        return self.out_proj(out.transpose(1, 2).flatten(2)), None  # [B,T,D]

    def _project(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> list[torch.Tensor]:
        bias_q, bias_k, bias_v = self.in_proj_bias.chunk(3)
        if self.same_width and query is key and key is value:  # self-attention: one matmul for q, k and v
            projected = F.linear(query, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        elif self.same_width:
            weight_q, weight_k, weight_v = self.in_proj_weight.chunk(3)
            projected = [F.linear(query, weight_q, bias_q), F.linear(key, weight_k, bias_k),
                         F.linear(value, weight_v, bias_v)]
        else:
            projected = [F.linear(query, self.q_proj_weight, bias_q), F.linear(key, self.k_proj_weight, bias_k),
                         F.linear(value, self.v_proj_weight, bias_v)]
        return [x.unflatten(-1, (self.heads, -1)).transpose(1, 2) for x in projected]  # [B,H,L,d]
