"""The terminal UI: a thin renderer of the stage results (start at app.py)."""
