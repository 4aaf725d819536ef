"""The hostile tests' run on the conftest's tiny diffusion model (any model name loads it) and a tiny evaluator CLIP."""
from __future__ import annotations

import pytest


@pytest.fixture
def store_tiny(tmp_path_factory, tiny_text_encoder, tiny_generator, monkeypatch):
    """models.registry.load gives the tiny generator for any name (counted); the evaluator CLIP is tiny too."""
    import models.registry
    from evaluation.metrics import features

    folder = tmp_path_factory.mktemp("clip")
    tiny_text_encoder.save_pretrained(folder)
    monkeypatch.setenv(features.EVALUATOR_CLIP_ENV, str(folder))
    loads = []
    monkeypatch.setattr(models.registry, "load", lambda name, device="cpu": loads.append(name) or tiny_generator)
    return loads
