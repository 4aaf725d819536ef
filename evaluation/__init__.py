"""GenBench evaluation. From Python: `evaluation.run(models=[...], prompts=..., out=...)` and
`evaluation.score(IMAGES, prompts=..., out=...)` return a Results (evaluation/api.py); from the shell,
`python -m evaluation --help`."""
from evaluation.api import Results, run, score

__all__ = ["Results", "run", "score"]
