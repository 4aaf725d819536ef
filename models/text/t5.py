"""A T5 text encoder pre-trained on the world's captions with T5's own objective, then frozen (Imagen's recipe).

transformers' T5EncoderModel in a small v1.1-style config (gated-GELU, relative position buckets) behind a
byte-pair tokenizer learned from the captions (`tokenizers`; T5's SentencePiece vocabulary cannot be
downloaded here). Span corruption (models/text/span_corruption.py) trains encoder and decoder together; only
the encoder ships. Unlike CLIP's causal text tower, every token attends to the whole caption.

Per-token states, padded to a fixed length so a caption and the empty caption stack in one batch, feed
cross-attention; their mean over the caption's own tokens (padding left out) is the pooled vector (AdaLN),
as Imagen pools its T5 states.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib

import torch
from safetensors.torch import load_model, save_model
from tokenizers import Tokenizer
from transformers import T5Config, T5EncoderModel, T5ForConditionalGeneration

from models.checkpoints import CHECKPOINT_ROOT, CheckpointError, read_manifest

DEFAULT_PATH = CHECKPOINT_ROOT / "text-t5"
WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"
PAD, EOS, UNK = 0, 1, 2  # the first special tokens, as in T5's vocabulary
SENTINELS = 16  # <extra_id_0> ... <extra_id_15>, ids 3 .. 18: the span-corruption placeholders


@dataclasses.dataclass
class T5EncoderConfig:
    vocab_size: int = 256  # what the tokenizer trainer aims for; the world needs ~200
    d_model: int = 64  # per-token state size = the cross-attention dim (as the CLIP encoder's text_width)
    d_kv: int = 16
    d_ff: int = 256
    num_layers: int = 3  # encoder layers (the CLIP encoder has 3 too)
    num_decoder_layers: int = 2  # trained, then dropped
    num_heads: int = 4
    context_length: int = 32  # tokens, </s> included; longer captions are cut
    noise_density: float = 0.25  # share of a caption's tokens masked (T5: 0.15; captions are short)
    mean_span: float = 2.0  # mean masked-span length (T5: 3)

    @property
    def text_width(self) -> int:
        return self.d_model

    @property
    def embed_dim(self) -> int:  # the pooled vector is a mean of states
        return self.d_model

    def transformers_config(self, vocab: int) -> T5Config:
        return T5Config(vocab_size=vocab, d_model=self.d_model, d_kv=self.d_kv, d_ff=self.d_ff,
                        num_layers=self.num_layers, num_decoder_layers=self.num_decoder_layers,
                        num_heads=self.num_heads, feed_forward_proj="gated-gelu", dropout_rate=0.0,
                        tie_word_embeddings=False, pad_token_id=PAD, eos_token_id=EOS, decoder_start_token_id=PAD)


T5_CONFIGS = {
    "tiny": T5EncoderConfig(d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2),  # tests
    "small": T5EncoderConfig(),  # the shipped text-t5
}


def special_tokens() -> list[str]:
    return ["<pad>", "</s>", "<unk>"] + [f"<extra_id_{i}>" for i in range(SENTINELS)]


def train_tokenizer(captions: list[str], vocab_size: int) -> Tokenizer:
    """A byte-pair vocabulary learned from captions: lower-cased, words split on spaces (SentencePiece's '▁')."""
    import string

    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    # every letter, digit and punctuation mark is in the vocabulary, so an unseen word is spelled, not lost
    alphabet = list(string.ascii_lowercase + string.digits + string.punctuation)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens(), initial_alphabet=alphabet,
                                  show_progress=False)
    tokenizer.train_from_iterator(captions, trainer)
    return tokenizer


def token_ids(tokenizer: Tokenizer, captions: list[str], length: int | None = None) -> list[list[int]]:
    """Each caption's ids without </s>, cut to length - 1 (room for </s>) when a length is given."""
    ids = [encoding.ids for encoding in tokenizer.encode_batch(list(captions), add_special_tokens=False)]
    return [row[:length - 1] for row in ids] if length else ids


def pad(rows: list[list[int]], length: int | None = None, value: int = PAD) -> torch.Tensor:
    """Rows of ids -> [B, length] (the longest row when no length is given)."""
    length = length or max(len(row) for row in rows)
    return torch.tensor([row + [value] * (length - len(row)) for row in rows], dtype=torch.long)


class T5TextEncoder(torch.nn.Module):
    """Captions -> (token states [B, context_length, d_model], pooled [B, d_model]), the TextEncoder interface."""

    def __init__(self, config: T5EncoderConfig, tokenizer: Tokenizer, encoder: T5EncoderModel):
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.encoder = encoder

    @property
    def device(self) -> torch.device:
        return self.encoder.shared.weight.device

    def tokenize(self, captions: list[str]) -> torch.Tensor:
        rows = [row + [EOS] for row in token_ids(self.tokenizer, captions, self.config.context_length)]
        return pad(rows, self.config.context_length).to(self.device)  # [B, L]

    def forward(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.tokenize(captions)  # [B, L]
        mask = (ids != PAD).long()  # [B, L]: the caption and its </s>
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # [B, L, D]
        weights = mask.unsqueeze(-1).to(states.dtype)  # [B, L, 1]
        pooled = (states * weights).sum(1) / weights.sum(1)  # [B, D]
        return states, pooled

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.encoder.parameters())

    # ------------------------------------------------------------ persistence
    def save_pretrained(self, folder: pathlib.Path) -> None:
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(dataclasses.asdict(self.config), indent=2) + "\n")
        (folder / TOKENIZER).write_text(self.tokenizer.to_str(pretty=True) + "\n")
        save_model(self.encoder, str(folder / WEIGHTS))  # writes the tied embedding once

    @classmethod
    def from_pretrained(cls, folder: pathlib.Path = DEFAULT_PATH, verify: bool = True) -> "T5TextEncoder":
        folder = pathlib.Path(folder)
        if not all((folder / name).is_file() for name in ("config.json", TOKENIZER, WEIGHTS)):
            raise CheckpointError(f"no T5 text encoder in {folder}: run `python -m models train --model text-t5`")
        if verify and (folder / "generator.json").is_file():
            read_manifest(folder)
        try:
            config = T5EncoderConfig(**json.loads((folder / "config.json").read_text()))
            tokenizer = Tokenizer.from_str((folder / TOKENIZER).read_text())
            encoder = T5EncoderModel(config.transformers_config(tokenizer.get_vocab_size()))
            load_model(encoder, str(folder / WEIGHTS))
        except Exception as error:  # json, tokenizer or safetensors errors, shape mismatches
            raise CheckpointError(f"cannot load the T5 encoder in {folder}: {str(error).splitlines()[0]}") from None
        return cls(config, tokenizer, encoder).eval().requires_grad_(False)

    @classmethod
    def from_seq2seq(cls, config: T5EncoderConfig, tokenizer: Tokenizer,
                     model: T5ForConditionalGeneration) -> "T5TextEncoder":
        """The encoder half of a pre-trained encoder-decoder (shared embedding and encoder stack)."""
        encoder = T5EncoderModel(model.config)
        encoder.load_state_dict({k: v for k, v in model.state_dict().items()
                                 if k.startswith(("shared.", "encoder."))})
        return cls(config, tokenizer, encoder.to(model.device))


def load_text_encoder(folder: pathlib.Path):
    """The text encoder saved in `folder`: the T5 encoder (it ships a tokenizer.json) or the CLIP one."""
    if (pathlib.Path(folder) / TOKENIZER).is_file():
        return T5TextEncoder.from_pretrained(folder)
    from models.text.encoder import TextEncoder
    return TextEncoder.from_pretrained(folder)
