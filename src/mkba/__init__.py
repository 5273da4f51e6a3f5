"""mkba: Monte Carlo social cost-benefit analysis (MKBA) of area-based neighbourhood programmes."""

__version__ = "0.1.0"
