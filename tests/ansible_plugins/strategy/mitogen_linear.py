"""Mitogen's ``linear`` strategy, for the Molecule scenarios only (.config/molecule/config.yml).

Mitogen keeps one Python interpreter per host and sends it each task's module, instead of starting a
new interpreter through ``docker exec`` for every task: measured on the ``web`` scenario's converged
hosts, a check-mode run of converge.yml took 172 s instead of 321 s with identical results
(docs/testing.md). Real sites and the lab run Ansible's own strategy; so does scenario ``common``, the
proof that the roles need nothing from Mitogen.

Plays on the controller alone (Molecule's own create and destroy playbooks) run with Ansible's own
linear strategy: they poll ``async`` jobs, which under Mitogen 0.3.54 with ansible-core 2.19 never
report finished (measured: the deletion wait of ``molecule destroy`` retried for minutes).

Ansible finds strategy plugins by directory; this file makes the installed package's plugin
available from the repository (``ANSIBLE_STRATEGY_PLUGINS``) whatever the venv's Python version.
"""

from ansible.plugins.strategy.linear import StrategyModule as AnsibleLinear
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenLinear

__all__ = ["StrategyModule"]


class StrategyModule(MitogenLinear):
    """Mitogen's linear strategy for plays on managed hosts, Ansible's for controller-only plays."""

    def run(self, iterator, play_context, result=0):
        hosts = {host.name for host in self._inventory.get_hosts(iterator._play.hosts)}
        if hosts <= {"localhost"}:
            return AnsibleLinear.run(self, iterator, play_context)
        return super().run(iterator, play_context, result)
