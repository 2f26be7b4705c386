"""docs/app-service.md documents every setting, and nothing that does not exist."""

import re
from dataclasses import fields
from pathlib import Path

from pdfcompare.settings import ENV_PREFIX, Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "app-service.md"


def test_every_setting_is_in_the_configuration_table():
    text = DOC.read_text()
    table = text.split("## Configuration", 1)[1]
    documented = set(re.findall(r"^\| `(PDFCOMPARE_[A-Z0-9_]+)` \|", table, flags=re.M))
    wanted = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}
    assert documented == wanted, (f"undocumented: {sorted(wanted - documented)}; "
                                  f"documented but unknown: {sorted(documented - wanted)}")
