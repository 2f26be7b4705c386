"""The SCRAM-SHA-256 filter of role pgbouncer reproduces PostgreSQL's verifiers exactly.

The expected verifiers were made by PostgreSQL 17 itself (`CREATE ROLE t PASSWORD '...'` with
password_encryption = scram-sha-256, then `SELECT rolpassword FROM pg_authid`): given the same
salt, the filter must produce the same StoredKey and ServerKey, or PgBouncer would refuse the
password (or, worse, hand a wrong key to the server).
"""

import base64
import importlib.util
import re

import pytest

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "pgbouncer_scram", ROOT / "roles" / "pgbouncer" / "filter_plugins" / "pgbouncer_scram.py"
)
scram = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scram)

# (password, verifier PostgreSQL 17 stored for it)
POSTGRESQL_VERIFIERS = [
    (
        "correct horse battery staple",
        "SCRAM-SHA-256$4096:xooseqZj9sKdVyrd2XOm2A==$KCY6+kIgDJCZRoz3QSevGTD5tYx28Q7kCtWKQdhq20k="
        ":VvgOjFXGkJxazIKRaY4ZSh8nhEVbsNZR9BIADiyNufw=",
    ),
    (
        "app-Secr3t!",
        "SCRAM-SHA-256$4096:UKnAKSzusn0GSrUywG9Ncg==$IOIIngqNdSF2ZWkrSMjqssQ4XbwLUYrmgdeDFU8dfE8="
        ":TzU9ZlTGAyiccnXXOig5nD2Gi14Aj03BifthH58HPlM=",
    ),
    # Non-ASCII: PostgreSQL applies SASLprep (NFKC turns the ligature "ﬁ" into "fi").
    (
        'p:a\\ss"wörd ﬁ',
        "SCRAM-SHA-256$4096:zIHLn15ByMqjINydPhiZBQ==$JYUsaUQ6gqaMEovzAm6bZHwQdrQ3bqqe0PlWfTg4iGU="
        ":4a4j1Zsp9bxObrzOt2yb8U1d2/FpkvUkv4hj/1XX9cg=",
    ),
    (
        "'",
        "SCRAM-SHA-256$4096:FjlYp12T44pTcu0/qwVXuA==$S7aQcdHnO6/DXp1rElwZdCYEFDggU9T39bBvdJ0kuyo="
        ":xAjHn0sqYkOiu5SdDD5Ja1BqK0UWXnqml51k8qD372o=",
    ),
]
VERIFIER_RE = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")


def salt_of(verifier: str) -> str:
    return VERIFIER_RE.match(verifier).group(2)


@pytest.mark.parametrize(
    ("password", "expected"), POSTGRESQL_VERIFIERS, ids=["ascii", "app", "unicode", "quote"]
)
def test_same_verifier_as_postgresql_for_the_same_salt(password, expected):
    assert scram.scram_verifier(password, salt=salt_of(expected)) == expected


def test_saslprep_matters_for_non_ascii_passwords(monkeypatch):
    password, expected = POSTGRESQL_VERIFIERS[2]
    assert scram.saslprep(password) == 'p:a\\ss"wörd fi'
    # Hashing the raw string (no SASLprep) gives a verifier PostgreSQL would never accept.
    monkeypatch.setattr(scram, "saslprep", lambda raw: raw)
    assert scram.scram_verifier(password, salt=salt_of(expected)) != expected


def test_saslprep_keeps_ascii_and_falls_back_on_prohibited_characters():
    assert scram.saslprep("plain ascii\x01") == "plain ascii\x01"
    assert scram.saslprep("a\u00a0b") == "a b"  # non-ASCII space mapped to a space
    assert scram.saslprep("a\u00adb") == "ab"  # soft hyphen is mapped to nothing
    assert scram.saslprep("a\u0080b\u00e9") == "a\u0080b\u00e9"  # control character: raw password


def test_seeded_salt_is_stable_and_depends_on_the_seed():
    first = scram.scram_verifier("s3cret", "app1:pgbouncer_admin")
    assert first == scram.scram_verifier("s3cret", "app1:pgbouncer_admin")
    assert first != scram.scram_verifier("s3cret", "app2:pgbouncer_admin")
    match = VERIFIER_RE.match(first)
    assert match and match.group(1) == "4096"
    assert len(base64.b64decode(match.group(2))) == 16
    assert "s3cret" not in first


def test_iterations_are_honoured():
    assert scram.scram_verifier("x", "seed", iterations=10000).startswith("SCRAM-SHA-256$10000:")


@pytest.mark.parametrize("bad", [{"password": ""}, {"password": None}, {"password": "x", "salt_seed": ""}])
def test_refuses_empty_inputs(bad):
    args = {"salt_seed": "seed"} | bad
    with pytest.raises(ValueError):
        scram.scram_verifier(**args)


def test_exposed_as_an_ansible_filter():
    assert scram.FilterModule().filters()["pgbouncer_scram_verifier"] is scram.scram_verifier
