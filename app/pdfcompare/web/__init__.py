"""The Streamlit user interface (``app.py`` is the script ``pdfcompare serve`` runs)."""
