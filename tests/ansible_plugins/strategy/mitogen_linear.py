"""Mitogen's ``linear`` strategy, for the Molecule scenarios only (.config/molecule/config.yml).

Mitogen keeps one Python interpreter per host and sends it each task's module, instead of starting a
new interpreter through ``docker exec`` for every task: measured on the ``web`` scenario's converged
hosts, a check-mode run of converge.yml took 172 s instead of 321 s with identical results
(docs/testing.md). Real sites and the lab run Ansible's own strategy; so does scenario ``common``, the
proof that the roles need nothing from Mitogen.

Ansible finds strategy plugins by directory; this file makes the installed package's plugin
available from the repository (``ANSIBLE_STRATEGY_PLUGINS``) whatever the venv's Python version.
"""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
