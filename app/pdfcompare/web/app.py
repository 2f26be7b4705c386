"""PDF Compare in the browser: the script Streamlit runs for every session (``pdfcompare serve``).

The page itself is :func:`pdfcompare.web.main.run`. Streamlit runs this file as module
``__main__``; a worker process started while a script runs re-executes it as ``__mp_main__``
(multiprocessing re-runs the main script of the parent in every new process), and must then do
nothing at all.
"""

if __name__ == "__main__":
    from pdfcompare.web.main import run

    run()
