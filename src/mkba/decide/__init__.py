"""Decisions, not only estimates: IRR and acceptability, value of information, allocation of
the budget, and scenario discovery (PRIM). Everything runs on the engine's one sampling path
with common random numbers."""
