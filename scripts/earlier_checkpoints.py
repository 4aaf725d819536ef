"""Built-in models from another checkout's checkpoints, as `--models` entries: the shipped models before a
retraining, judged in the same run as the new ones (paired tests in `evaluation compare`).

    git worktree add /tmp/genbench-v1 83cf470          # the last commit with the world-v1 checkpoints
    GENBENCH_EARLIER=/tmp/genbench-v1/models/checkpoints \\
        python -m evaluation run --models ddpm,scripts.earlier_checkpoints:ddpm ...

Each attribute is a factory the run calls once; the folder comes from $GENBENCH_EARLIER.
"""
from __future__ import annotations

import os
import pathlib


def _root() -> pathlib.Path:
    root = pathlib.Path(os.environ.get("GENBENCH_EARLIER", ""))
    if not os.environ.get("GENBENCH_EARLIER") or not root.is_dir():
        raise FileNotFoundError("set GENBENCH_EARLIER to a models/checkpoints folder of another checkout "
                                "(git worktree add DIR COMMIT)")
    return root


def ddpm(device: str = "cpu"):
    from models.diffusion import pixel
    return pixel.load(_root() / "ddpm", device=device)


def _latent(name: str):
    def factory(device: str = "cpu"):
        from models.diffusion import latent
        return latent.load(_root() / name, device=device)
    return factory


ldm, dit, dit_layout = _latent("ldm"), _latent("dit"), _latent("dit-layout")


def gan(device: str = "cpu"):
    from models.gan import family
    return family.load(_root() / "gan", device=device)


def gan_layout(device: str = "cpu"):
    from models.gan import planned
    return planned.load_planned(_root() / "gan-layout", device=device)


def ar(device: str = "cpu"):
    from models.ar import family
    return family.load(_root() / "ar", device=device)
