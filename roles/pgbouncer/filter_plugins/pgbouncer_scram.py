"""SCRAM-SHA-256 verifiers for PgBouncer's auth_file, computed like PostgreSQL computes them.

A verifier lets PgBouncer check a client's password without storing the password itself:

    SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>

PostgreSQL draws a random salt for every password; the role needs the same verifier on every run
(or each run would rewrite userlist.txt and reload PgBouncer), so the salt is derived from a seed
(for example the host and user name). A salt only has to be unique, not secret.

    "{{ pgbouncer_admin_password | pgbouncer_scram_verifier(inventory_hostname ~ ':pgbouncer_admin') }}"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import stringprep
import unicodedata

SALT_BYTES = 16
DEFAULT_ITERATIONS = 4096  # PostgreSQL's scram_iterations default

# RFC 4013 (SASLprep) tables of prohibited output, as PostgreSQL's pg_saslprep() checks them.
_PROHIBITED = (
    stringprep.in_table_c12,
    stringprep.in_table_c21,
    stringprep.in_table_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
    stringprep.in_table_a1,
)


def saslprep(password: str) -> str:
    """Normalise a password the way PostgreSQL does before hashing it.

    Pure ASCII passwords are used as they are. Otherwise RFC 4013 applies: non-ASCII spaces
    become spaces, "mapped to nothing" characters go, the result is NFKC-normalised. When the
    result would contain prohibited characters or break the bidirectional rules, PostgreSQL
    falls back to the raw password, and so does this function.
    """
    if password.isascii():
        return password
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch for ch in password if not stringprep.in_table_b1(ch)
    )
    prepared = unicodedata.normalize("NFKC", mapped)
    if any(table(ch) for ch in prepared for table in _PROHIBITED):
        return password
    rand_al = [stringprep.in_table_d1(ch) for ch in prepared]
    if any(rand_al):
        if any(stringprep.in_table_d2(ch) for ch in prepared):
            return password
        if not (rand_al[0] and rand_al[-1]):
            return password
    return prepared


def derive_salt(seed: str) -> bytes:
    """A 16-byte salt that depends only on the seed (stable across runs)."""
    return hashlib.sha256(f"pgbouncer-scram-salt:{seed}".encode()).digest()[:SALT_BYTES]


def scram_verifier(
    password: str, salt_seed: str = "", iterations: int = DEFAULT_ITERATIONS, salt: str | None = None
) -> str:
    """Return the SCRAM-SHA-256 verifier of a password.

    salt_seed: any string; the salt is derived from it (ignored when `salt` is given).
    salt: the salt as base64 (to reproduce a verifier PostgreSQL made).
    """
    if not isinstance(password, str) or password == "":
        raise ValueError("pgbouncer_scram_verifier: the password must be a non-empty string")
    iterations = int(iterations)
    if iterations < 1:
        raise ValueError("pgbouncer_scram_verifier: iterations must be positive")
    if salt is not None:
        salt_bytes = base64.b64decode(salt, validate=True)
    elif salt_seed:
        salt_bytes = derive_salt(str(salt_seed))
    else:
        raise ValueError("pgbouncer_scram_verifier: give a salt_seed (or a base64 salt)")
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode(), salt_bytes, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt_bytes)}${b64(stored_key)}:{b64(server_key)}"


class FilterModule:
    """Ansible filters of role pgbouncer."""

    def filters(self):
        return {"pgbouncer_scram_verifier": scram_verifier}
