"""Speed: `python -m evaluation perf`, every speed number of the project side by side (suite.py)."""
