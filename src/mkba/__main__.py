"""``python -m mkba`` runs the command line."""

from mkba.cli import main

main()
