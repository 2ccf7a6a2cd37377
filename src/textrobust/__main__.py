"""``python -m textrobust`` runs the CLI."""

from .cli import main

main()
