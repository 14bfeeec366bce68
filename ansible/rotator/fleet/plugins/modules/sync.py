#!/usr/bin/python
"""rotator.fleet.sync: run ``rotator sync`` on the managed host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sync
short_description: Merge Azure's root CAs into trust stores with rotator, with check mode and diff
description:
  - Runs C(rotator sync --json) on the managed host. rotator proves every root against its pinned
    SHA-256 before it writes anything and removes only roots it added itself.
  - Check mode runs C(rotator sync --dry-run), which computes the plan and writes nothing.
  - With C(--diff), each target whose roots change shows the roots rotator manages there before
    and after, one per line.
  - Fails with rotator's own message when any target fails; the other targets are still synced
    (each store is written whole or left as it was).
options:
  config:
    description: A rotator config on the managed host (default /etc/rotator/rotator.toml when it exists).
    type: path
  targets:
    description:
      - The stores to keep right, instead of the config's targets. The module writes them to a
        temporary config (mode 0600, removed after the run); a password reaches rotator through
        its environment, never its command line.
    type: list
    elements: dict
    suboptions:
      kind:
        description: pem, jks, pkcs12, java-cacerts, system, pem-dir (see docs/stores.md).
        type: str
        required: true
      path:
        description: The store's path; omit it for C(system) and C(java-cacerts), which find their own.
        type: str
      password:
        description: The keystore password (jks, pkcs12, java-cacerts).
        type: str
  profile:
    description: Root set, e.g. azure-all, azure-postgresql.
    type: str
  roots:
    description: More roots by id.
    type: list
    elements: str
  mirror:
    description: A directory or HTTPS URL holding C(<id>.pem) copies (see C(rotator mirror)); every copy is pin-checked.
    type: str
  download_ca_bundle:
    description: CA bundle for downloads (a mirror with an internal CA, a TLS-intercepting proxy).
    type: path
  offline:
    description: No network; cache, mirror directory and the copies embedded in rotator only.
    type: bool
    default: false
  cache_dir:
    description: Verified-copy cache directory.
    type: path
  no_cache:
    description: Neither read nor write the cache (every copy comes from the mirror, the network or the package).
    type: bool
    default: false
  state_dir:
    description: rotator's state and lock directory.
    type: path
  at:
    description: Evaluate the lifecycle as of this date (YYYY-MM-DD), to rehearse a deadline.
    type: str
  sysroot:
    description: Image tree whose system stores to write.
    type: path
  executable:
    description: rotator on the managed host (default /opt/rotator/bin/rotator, /usr/local/bin/rotator, then PATH).
    type: path
attributes:
  check_mode:
    description: Runs C(rotator sync --dry-run), which writes nothing and reports what would change.
    support: full
  diff_mode:
    description: Per target, the roots rotator manages there before and after.
    support: full
author:
  - rotator maintainers
"""

EXAMPLES = r"""
- name: Azure's PostgreSQL roots in the application's bundle and truststore
  rotator.fleet.sync:
    profile: azure-postgresql
    targets:
      - kind: pem
        path: /etc/azure/roots.pem
      - kind: jks
        path: /opt/app/truststore.jks
        password: "{{ app_truststore_password }}"

- name: From the fleet's own mirror, no internet
  rotator.fleet.sync:
    mirror: https://mirror.internal/azure-roots/
    download_ca_bundle: /etc/ssl/certs/corp-ca.pem
"""

RETURN = r"""
report:
  description: rotator's JSON report (C(rotator sync --json)).
  returned: when rotator ran
  type: dict
targets:
  description: Per target, whether it changed (would change, in check mode), what was added and removed, any error.
  returned: when rotator ran
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.rotator.fleet.plugins.module_utils import rotator as util

ARGUMENT_SPEC = {
    **util.COMMON_SPEC,
    "mirror": {"type": "str"},
    "download_ca_bundle": {"type": "path"},
    "offline": {"type": "bool", "default": False},
    "cache_dir": {"type": "path"},
    "no_cache": {"type": "bool", "default": False},
}


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("config", "targets"), ("cache_dir", "no_cache")],
        supports_check_mode=True,
    )
    extra = ["--dry-run"] if module.check_mode else []
    rc, doc, stdout, stderr = util.run(module, "sync", extra)
    if doc is None:
        module.fail_json(msg=util.error_message(stderr, rc), rc=rc, stdout=stdout, stderr=stderr)
    for warning in doc.get("warnings") or []:
        module.warn(f"rotator: {warning}")
    targets = util.summary(doc, module.check_mode)
    result = {
        "changed": any(t["changed"] for t in targets.values()),
        "report": doc,
        "targets": targets,
        "rc": rc,
    }
    if module._diff:
        result["diff"] = util.sync_diff(doc)
    if rc != 0 or doc.get("ok") is False:
        module.fail_json(msg=util.error_message(stderr, rc, doc), stderr=stderr, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
