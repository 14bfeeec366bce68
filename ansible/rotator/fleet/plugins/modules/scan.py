#!/usr/bin/python
"""rotator.fleet.scan: run ``rotator scan`` on the managed host (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: scan
short_description: Find the host's trust stores and say which break on Azure's certificate rotation
description:
  - Runs C(rotator scan --json) on the managed host. Read-only; never changes anything.
  - Finds the stores clients on the host read (the OS store, JDK/JRE cacerts, certifi in every
    environment, each account's C(~/.postgresql/root.crt), the stores units and
    C(/etc/environment) point at) and judges each against Azure's reference chains.
  - A store that fails is not a failure of this module; C(breaks) says so, C(failing) lists those
    stores with their fix, and the scan playbook (rotator.fleet.scan) turns a fleet of results
    into one table.
  - Fails only when rotator cannot run or rejects its arguments (exit status 2), with rotator's
    one-line error.
options:
  service:
    description:
      - Whose chains to judge, C(postgresql), C(mysql), C(china) or C(all) (as rotator's C(--service)).
      - Default rotator's, PostgreSQL and MySQL.
    type: list
    elements: str
  include:
    description: More directories to walk (rotator's C(--include)).
    type: list
    elements: path
  sysroot:
    description: Image tree or mounted root to scan instead of the host.
    type: path
  config:
    description: A rotator config whose targets count as managed (default as for rotator.fleet.sync).
    type: path
  at:
    description: Judge as of this date (YYYY-MM-DD), e.g. after a cross-sign expires.
    type: str
  time_limit:
    description: Stop walking after this many seconds (rotator's default 300); the result says it is incomplete.
    type: float
  executable:
    description: rotator on the managed host (default /opt/rotator/bin/rotator, /usr/local/bin/rotator, then PATH).
    type: path
attributes:
  check_mode:
    description: The module only reads; it runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
author:
  - rotator maintainers
"""

EXAMPLES = r"""
- name: Which stores on this host break when Azure rotates?
  rotator.fleet.scan:
    service: [postgresql]
  register: rotator_scan

- name: Say so
  ansible.builtin.debug:
    msg: "{{ item.path }}: {{ item.fix }}"
  loop: "{{ rotator_scan.failing }}"
"""

RETURN = r"""
breaks:
  description: A store fails a chain or holds an Azure intermediate (rotator scan's exit status 1).
  returned: success
  type: bool
failing:
  description:
    - The failing stores, each with path, kind, readers, failing_chains, azure_intermediates and fix
      (C({target}) for C(rotator sync --target), or C({setting, where}); null when there is none).
  returned: success
  type: list
  elements: dict
stores:
  description: Every store found, as rotator scan's JSON gives it (verdicts per chain, managed, fix).
  returned: success
  type: list
  elements: dict
unreadable:
  description: Stores found but not read (too large, not a regular file, unreadable), with the reason.
  returned: success
  type: list
  elements: dict
summary:
  description: rotator scan's counts (stores, failing, surviving, unreadable) and whether the walk was complete.
  returned: success
  type: dict
chains:
  description: The chains judged, id to description.
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rotator.fleet.plugins.module_utils import rotator as util


def main():
    module = AnsibleModule(argument_spec=util.SCAN_SPEC, supports_check_mode=True)
    rc, doc = util.run_report(module, "scan", util.scan_args(module.params))
    # No "rc" in the result: Ansible would take a non-zero one for a failure of the task.
    module.exit_json(changed=False, **util.scan_result(doc, rc))


if __name__ == "__main__":
    main()
