"""Who is using the app: the authenticated user (a header set by the load balancer) or an anonymous
workspace (a random token in a cookie).

``header`` mode trusts the user header only on requests whose peer address is one of
``settings.trusted_proxies`` (the load balancers); from anyone else the header is ignored, so a
browser that reaches an instance directly cannot claim a name. ``anonymous`` mode gives each browser
its own workspace: the token in cookie ``pdfcompare_workspace`` is the workspace's key (43 url-safe
characters, 256 bits from :func:`secrets.token_urlsafe`); a missing or malformed cookie gets a new
token, which the UI sets as a cookie (:func:`workspace_cookie`).

``User.id`` is what the database stores as the owner of rows: ``user:<name>`` or ``anon:<token>``.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from .settings import Settings

__all__ = [
    "User",
    "IdentityResult",
    "resolve_user",
    "new_workspace_token",
    "workspace_cookie",
    "is_trusted_proxy",
    "WORKSPACE_COOKIE",
    "COOKIE_MAX_AGE_S",
]

WORKSPACE_COOKIE = "pdfcompare_workspace"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
# A user name from the proxy: printable, no separators that could confuse logs or ids, bounded.
_USER_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


@dataclass(frozen=True, slots=True)
class User:
    """The person (or anonymous browser) a request acts for."""

    id: str
    """Owner id stored with every row: ``user:<name>`` or ``anon:<token>``."""
    name: str
    """Display name (``anonymous`` for a workspace)."""
    is_admin: bool = False
    """May see every user's documents and comparisons."""
    anonymous: bool = False
    """An anonymous workspace (cookie), not an authenticated user."""

    @classmethod
    def authenticated(cls, name: str, settings: Settings | None = None) -> User:
        """The user called ``name`` (an admin when listed in ``settings.admin_users``)."""
        admins = settings.admin_users if settings is not None else ()
        return cls(id=f"user:{name}", name=name, is_admin=name in admins, anonymous=False)

    @classmethod
    def workspace(cls, token: str) -> User:
        """The anonymous workspace of ``token``."""
        return cls(id=f"anon:{token}", name="anonymous", is_admin=False, anonymous=True)

    @classmethod
    def from_owner_id(cls, owner_id: str, *, is_admin: bool = False) -> User:
        """The user that owns rows stored as ``owner_id`` (jobs act on behalf of it)."""
        kind, _, rest = owner_id.partition(":")
        if kind == "anon":
            return cls(id=owner_id, name="anonymous", is_admin=is_admin, anonymous=True)
        if kind == "user":
            return cls(id=owner_id, name=rest, is_admin=is_admin, anonymous=False)
        raise ValueError(f"not an owner id: {owner_id!r}")


@dataclass(frozen=True, slots=True)
class IdentityResult:
    """What :func:`resolve_user` found."""

    user: User | None
    """The user, or None when the request may not use the app (``problem`` says why)."""
    set_cookie_token: str | None = None
    """A new workspace token the UI must store in cookie ``pdfcompare_workspace``."""
    problem: str | None = None
    """Why there is no user, for the person using the browser (and the log)."""


def new_workspace_token() -> str:
    """A fresh anonymous workspace token (43 url-safe characters)."""
    return secrets.token_urlsafe(32)


def workspace_cookie(token: str, *, secure: bool) -> str:
    """The cookie string for ``token`` (``document.cookie`` / ``Set-Cookie`` syntax): one year,
    whole site, SameSite=Lax, Secure when the page is served over https."""
    cookie = f"{WORKSPACE_COOKIE}={token}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; SameSite=Lax"
    return cookie + "; Secure" if secure else cookie


def _address(peer_ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # Streamlit's st.context.ip_address is None for loopback peers (127.0.0.1, ::1).
    if peer_ip is None or peer_ip == "":
        return ipaddress.ip_address("127.0.0.1")
    try:
        address = ipaddress.ip_address(peer_ip.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(settings: Settings, peer_ip: str | None) -> bool:
    """True when ``peer_ip`` (None = loopback) is one of ``settings.trusted_proxies``."""
    address = _address(peer_ip)
    if address is None:
        return False
    for proxy in settings.trusted_proxies:
        network = ipaddress.ip_network(proxy, strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def resolve_user(settings: Settings, headers: Mapping[str, str], peer_ip: str | None,
                 cookies: Mapping[str, str]) -> IdentityResult:
    """The user of a request (see the module docstring). Never raises."""
    if settings.auth_mode == "header":
        return _from_header(settings, headers, peer_ip)
    token = cookies.get(WORKSPACE_COOKIE)
    if token is not None and _TOKEN.fullmatch(token):
        return IdentityResult(User.workspace(token))
    token = new_workspace_token()
    return IdentityResult(User.workspace(token), set_cookie_token=token)


def _from_header(settings: Settings, headers: Mapping[str, str], peer_ip: str | None) -> IdentityResult:
    name = _header(headers, settings.auth_header)
    if not is_trusted_proxy(settings, peer_ip):
        shown = peer_ip or "127.0.0.1"
        return IdentityResult(None, problem=(
            f"This instance accepts users only through its load balancer; the request came from {shown}, "
            f"which is not in PDFCOMPARE_TRUSTED_PROXIES" + (f", so its {settings.auth_header} header "
                                                              "was ignored." if name else ".")))
    name = (name or "").strip()
    if not name:
        return IdentityResult(None, problem=(
            f"The load balancer did not say who you are (no {settings.auth_header} header): sign in "
            "through it, or ask the administrator to enable authentication there."))
    if not _USER_NAME.fullmatch(name):
        return IdentityResult(None, problem=(
            f"The user name in the {settings.auth_header} header is not acceptable (control characters, "
            "or longer than 200 characters)."))
    return IdentityResult(User.authenticated(name, settings))
