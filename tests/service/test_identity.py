"""Who a request acts for: the trusted header from the load balancers, or an anonymous workspace."""

from __future__ import annotations

import re

import pytest
from pdfcompare.identity import (
    WORKSPACE_COOKIE,
    User,
    is_trusted_proxy,
    new_workspace_token,
    resolve_user,
    workspace_cookie,
)
from pdfcompare.settings import Settings

HEADER = Settings(auth_mode="header", trusted_proxies=("10.0.0.5", "192.168.7.0/24", "::1"),
                  admin_users=("boss",))
ANONYMOUS = Settings()


@pytest.mark.parametrize("peer", ["10.0.0.5", "192.168.7.200", "::ffff:10.0.0.5", None, "::1"])
def test_the_header_from_a_trusted_proxy_names_the_user(peer: str | None) -> None:
    settings = HEADER if peer is not None else Settings(auth_mode="header", trusted_proxies=("127.0.0.1",))
    result = resolve_user(settings, {"x-pdfcompare-user": "alice"}, peer, {})
    assert result.problem is None
    assert result.user == User(id="user:alice", name="alice", is_admin=False, anonymous=False)
    assert result.set_cookie_token is None


def test_the_header_name_is_case_insensitive_and_admins_are_recognised() -> None:
    result = resolve_user(HEADER, {"X-PDFCOMPARE-USER": " boss "}, "10.0.0.5", {})
    assert result.user is not None and result.user.id == "user:boss" and result.user.is_admin


@pytest.mark.parametrize("peer", ["10.0.0.6", "192.168.8.1", "203.0.113.9", "not-an-address", None])
def test_the_header_from_anyone_else_is_ignored(peer: str | None) -> None:
    result = resolve_user(HEADER, {"X-Pdfcompare-User": "boss"}, peer, {})
    assert result.user is None
    assert "not in PDFCOMPARE_TRUSTED_PROXIES" in result.problem
    assert "header was ignored" in result.problem


def test_a_trusted_proxy_without_the_header_gives_no_user() -> None:
    result = resolve_user(HEADER, {"Cookie": "x"}, "10.0.0.5", {WORKSPACE_COOKIE: new_workspace_token()})
    assert result.user is None
    assert "did not say who you are" in result.problem


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "x" * 201])
def test_unusable_user_names_are_refused(name: str) -> None:
    result = resolve_user(HEADER, {"X-Pdfcompare-User": name}, "10.0.0.5", {})
    assert result.user is None and result.problem


def test_an_anonymous_workspace_token_is_created_then_reused() -> None:
    first = resolve_user(ANONYMOUS, {}, None, {})
    token = first.set_cookie_token
    assert token is not None and re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert first.user == User(id=f"anon:{token}", name="anonymous", is_admin=False, anonymous=True)
    again = resolve_user(ANONYMOUS, {}, "198.51.100.1", {WORKSPACE_COOKIE: token})
    assert again.set_cookie_token is None
    assert again.user == first.user
    assert resolve_user(ANONYMOUS, {}, None, {}).set_cookie_token != token


@pytest.mark.parametrize("garbage", ["", "short", "x" * 44, "a" * 42 + "!", "../../etc/passwd" + "a" * 27])
def test_a_garbage_cookie_is_replaced(garbage: str) -> None:
    result = resolve_user(ANONYMOUS, {}, None, {WORKSPACE_COOKIE: garbage})
    assert result.set_cookie_token is not None and result.set_cookie_token != garbage
    assert result.user.id == f"anon:{result.set_cookie_token}"


def test_anonymous_mode_ignores_the_user_header() -> None:
    result = resolve_user(ANONYMOUS, {"X-Pdfcompare-User": "boss"}, "10.0.0.5", {})
    assert result.user is not None and result.user.anonymous and not result.user.is_admin


def test_the_cookie_string() -> None:
    assert workspace_cookie("t" * 43, secure=True) == (
        f"pdfcompare_workspace={'t' * 43}; Max-Age=31536000; Path=/; SameSite=Lax; Secure")
    assert "Secure" not in workspace_cookie("t" * 43, secure=False)


def test_owner_ids_map_back_to_users() -> None:
    assert User.from_owner_id("user:alice") == User("user:alice", "alice")
    assert User.from_owner_id("anon:" + "a" * 43).anonymous
    with pytest.raises(ValueError):
        User.from_owner_id("alice")


def test_trusted_proxy_matching() -> None:
    assert is_trusted_proxy(HEADER, "192.168.7.1")
    assert is_trusted_proxy(HEADER, "[::1]")
    assert not is_trusted_proxy(HEADER, "::2")
    assert not is_trusted_proxy(Settings(), None)
