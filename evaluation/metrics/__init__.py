"""Metrics: feature extractors, FID (fid.py) and FID at infinite n, KID and CMMD, the CLIP score, fidelity and
diversity, the judge audit, and run_metrics.py, which computes them all per (model, setting) of a run."""
