"""The arena: battles and votes in SQLite (votes.py), Bradley-Terry ratings (ratings.py), `python -m evaluation arena`."""
