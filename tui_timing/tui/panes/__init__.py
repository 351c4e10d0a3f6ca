"""The widgets of a stage's pane: its figures, checks, charts, assumptions, the decision
path and the action bar, one widget per module."""
