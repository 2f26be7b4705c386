"""PDF Compare in the browser (the script Streamlit runs for every session)."""

import streamlit as st

from pdfcompare import __version__
from pdfcompare.service import get_services

services = get_services()
st.set_page_config(page_title="PDF Compare", page_icon=":material/compare:", layout="wide")
st.title("PDF Compare")
st.write("Upload two versions of a document to see what changed.")
st.caption(f"PDF Compare {__version__} · instance {services.settings.instance}")
