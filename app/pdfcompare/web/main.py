"""One script run of the app (called by ``app.py``, the script ``pdfcompare serve`` runs).

Every run: the process's services, the user (identity first), the saved workspace (once per
session), the navigation with the pages (``views/``), and at the end the workspace saved if it
changed and the status section of the sidebar. No PDF is parsed or rendered in this process: the
views hand all of that to the worker pool as jobs.
"""

from __future__ import annotations

import streamlit as st

from .. import metrics
from ..service import get_services
from ..storage import StorageUnavailableError
from . import navigation, state, style, workspace
from .context import Ctx, resolve
from .views import status

__all__ = ["run"]


def run() -> None:
    st.set_page_config(page_title="PDF Compare", page_icon=":material/difference:", layout="wide",
                       initial_sidebar_state="expanded")
    style.apply()
    services = get_services()
    user = resolve(services)
    ctx = Ctx(services, user)
    if services.storage is None:
        status.not_configured(ctx)
        return
    workspace.restore(ctx)
    page = navigation.build(ctx)
    try:
        page.run()
    except StorageUnavailableError as exc:
        metrics.count_error("storage_unavailable")
        st.warning(str(exc), icon=":material/cloud_off:")
    finally:
        state.end_run()
        workspace.save(ctx)
        status.sidebar(ctx)
