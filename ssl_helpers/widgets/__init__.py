"""Thin ipywidgets layouts over pure functions.

Convention for every widget here: the pure function that computes what is shown lives next to the widget and
is tested directly; the widget draws into `ipywidgets.Image` (PNG bytes), keeps what it drew last in
`.last_drawn`, and redraws on every control change (`observe(..., names="value")`).
"""
