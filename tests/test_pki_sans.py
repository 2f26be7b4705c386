"""The SAN filters of role pki produce the names community.crypto reports for a certificate.

The provided mode compares the names the role wants with the names of the site's certificate
(x509_certificate_info, which lower-cases nothing and prints IPv6 addresses compressed), so both
sides must be normalised the same way, or a perfectly good certificate would be reported as
lacking a name.
"""

import importlib.util

import pytest
from ansible.errors import AnsibleFilterError

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "pki_sans", ROOT / "roles" / "pki" / "filter_plugins" / "pki_sans.py"
)
sans = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sans)


def test_host_names_address_then_extras_in_order():
    assert sans.pki_host_sans("app1.example.com", "10.0.0.21", ["DNS:pdf.example.com", "IP:127.0.0.1"]) == [
        "DNS:app1.example.com", "DNS:app1", "IP:10.0.0.21", "DNS:pdf.example.com", "IP:127.0.0.1",
    ]


def test_short_inventory_name_appears_once():
    assert sans.pki_host_sans("lb1", "172.30.0.11", ["DNS:localhost", "DNS:LB1"]) == [
        "DNS:lb1", "IP:172.30.0.11", "DNS:localhost",
    ]


def test_inventory_name_that_is_an_address_becomes_an_ip_san():
    assert sans.pki_host_sans("10.0.0.5", "10.0.0.5") == ["IP:10.0.0.5"]


def test_ipv6_is_compressed_like_certificate_info():
    assert sans.pki_normalize_sans(["IP:2001:db8:0:0:0:0:0:1", "IP:2001:db8::1"]) == ["IP:2001:db8::1"]


@pytest.mark.parametrize("bad", ["localhost", "DNS:", "FOO:bar", "IP:10.0.0.300"])
def test_malformed_entries_are_refused(bad):
    with pytest.raises(AnsibleFilterError):
        sans.pki_normalize_sans([bad])


def test_private_address_must_be_an_address():
    with pytest.raises(AnsibleFilterError, match="common_private_address"):
        sans.pki_host_sans("db1", "db1.internal")
