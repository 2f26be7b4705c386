"""``python -m pdfcompare`` runs the command line interface."""

from .cli import run

run()
