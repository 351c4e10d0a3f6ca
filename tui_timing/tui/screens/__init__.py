"""The modal screens and dialogs the app pushes over its main view: help, an item's whole
text, the runs, the pickers, confirmations."""
