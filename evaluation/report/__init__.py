"""Reports: report.md and report.html of a run (run_report.py) with its plots, grids, sections and curves, and the
paired tests between its columns (`python -m evaluation compare`)."""
