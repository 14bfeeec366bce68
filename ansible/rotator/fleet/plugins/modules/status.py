#!/usr/bin/python
"""rotator.fleet.status: run ``rotator status`` on the managed host (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: status
short_description: Read which trust stores hold which Azure roots, and what expires when
description:
  - Runs C(rotator status --json) on the managed host. Read-only; never changes anything.
  - A host that is not compliant is not a failure of this module; C(compliant) says so, and the
    readiness playbook (rotator.fleet.readiness) turns a fleet of results into one table.
  - Fails only when rotator cannot run or rejects its configuration.
options:
  config:
    description: A rotator config on the managed host (default /etc/rotator/rotator.toml when it exists).
    type: path
  targets:
    description: The stores to check, instead of the config's (passwords as for rotator.fleet.sync).
    type: list
    elements: dict
    suboptions:
      kind:
        description: pem, jks, pkcs12, java-cacerts, system, pem-dir.
        type: str
        required: true
      path:
        description: The store's path.
        type: str
      password:
        description: The keystore password.
        type: str
  profile:
    description: Root set, e.g. azure-all, azure-postgresql.
    type: str
  roots:
    description: More roots by id.
    type: list
    elements: str
  warn_days:
    description: Not compliant when a wanted root expires within this many days.
    type: int
    default: 30
  state_dir:
    description: rotator's state directory (for the last successful sync).
    type: path
  at:
    description: Judge as of this date (YYYY-MM-DD).
    type: str
  sysroot:
    description: Image tree whose system stores to read.
    type: path
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
- name: Is this host ready for the next rotation?
  rotator.fleet.status:
  register: rotator_status
"""

RETURN = r"""
compliant:
  description: Every target holds every wanted root, and none expires within warn_days.
  returned: success
  type: bool
report:
  description: rotator's JSON report (C(rotator status --json)).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rotator.fleet.plugins.module_utils import rotator as util

ARGUMENT_SPEC = {**util.COMMON_SPEC, "warn_days": {"type": "int", "default": 30}}


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("config", "targets")],
        supports_check_mode=True,
    )
    rc, doc = util.run_report(module, "status", ["--warn-days", str(module.params["warn_days"])])
    compliant = doc.get("compliant")
    if not isinstance(compliant, bool):
        compliant = rc == 0
    # No "rc" in the result: Ansible would take a non-zero one for a failure of the task.
    module.exit_json(changed=False, compliant=compliant, report=doc)


if __name__ == "__main__":
    main()
