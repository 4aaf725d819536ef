"""Runs: the sweep that fills a run folder, the models users bring, folders of images made elsewhere and their
scoring, and the commands `run`, `report`, `accuracy`, `score`, `export-prompts`."""
