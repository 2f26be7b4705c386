"""``pdfcompare serve``: one Streamlit instance of the web app, configured from :class:`Settings`.

Streamlit's own options are set here from the service's settings, so a deployment renders only
``PDFCOMPARE_*`` variables: the instance is headless, never watches files, sends no usage
statistics, protects uploads against cross-site requests (XSRF, with a cookie secret shared by every
instance behind one load balancer) and refuses uploads above the service's limit.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from .logs import configure_logging
from .service import Services, set_services
from .settings import Settings

__all__ = ["serve", "streamlit_flag_options", "APP_SCRIPT"]

APP_SCRIPT = Path(__file__).resolve().parent / "web" / "app.py"
log = logging.getLogger("pdfcompare.serve")


def streamlit_flag_options(settings: Settings, cookie_secret: str) -> dict[str, object]:
    """Streamlit's configuration for one instance (flag names as ``streamlit run`` takes them)."""
    return {
        "server_address": settings.address,
        "server_port": settings.port,
        "server_headless": True,
        "server_fileWatcherType": "none",
        "server_runOnSave": False,
        "server_enableXsrfProtection": True,
        "server_enableCORS": True,
        "server_maxUploadSize": settings.max_upload_mb,
        "server_cookieSecret": cookie_secret,
        # A full gc.collect() after every script run holds the interpreter lock for ~50-200 ms in this
        # process (PyMuPDF, NumPy, SciPy loaded): every session of the instance would wait for it.
        "runner_postScriptGC": False,
        "browser_gatherUsageStats": False,
        "client_toolbarMode": "viewer",
        "client_showErrorDetails": "none",
        "global_developmentMode": False,
        "logger_level": settings.log_level.lower(),
    }


def serve(settings: Settings) -> None:
    """Run the instance until it is stopped (SIGTERM/SIGINT stop it gracefully)."""
    from streamlit import config as streamlit_config
    from streamlit.web import bootstrap

    configure_logging(settings.log_level)
    cookie_secret = settings.cookie_secret
    if not cookie_secret:
        cookie_secret = secrets.token_urlsafe(32)
        log.warning("PDFCOMPARE_COOKIE_SECRET is not set: using a random one. Instances behind one "
                    "load balancer need the same secret, or uploads fail after a failover.")
    services = Services.create(settings)
    services.start()
    set_services(services)
    log.info("instance %s listening on %s:%s", settings.instance, settings.address, settings.port)
    flag_options = streamlit_flag_options(settings, cookie_secret)
    streamlit_config._main_script_path = str(APP_SCRIPT)
    bootstrap.load_config_options(flag_options=flag_options)
    try:
        bootstrap.run(str(APP_SCRIPT), False, [], flag_options)
    finally:
        services.close()
