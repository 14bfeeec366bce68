"""What ``rotator probe`` shows: the chain a server sent, and whether each store trusts it."""

from __future__ import annotations

from rotator.certs import Cert
from rotator.errors import ServerUnreachable
from rotator.probe.judge import ProbeResult
from rotator.records import TYPE_CHECKING
from rotator.report import JSON_VERSION

if TYPE_CHECKING:
    from typing import Any


def probe_json(result: ProbeResult) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "command": "probe",
        "chain_file": result.chain_file,
        "host": None if result.chain_file else result.endpoint.host,
        "port": None if result.chain_file else result.endpoint.port,
        "starttls": result.endpoint.starttls,
        "servername": result.endpoint.name,
        "sslmode": result.sslmode,
        "hostname_checked": result.hostname,
        "at": result.at.isoformat(),
        "reachable": True,
        "tls_version": result.tls_version,
        "tls_cipher": result.cipher,
        "tls_legacy": result.legacy_tls,
        "server_version": result.server_version,
        "server_certificate": result.has_leaf,
        "chain": [
            {
                "index": i,
                "subject": c.subject,
                "issuer": c.issuer,
                "not_before": c.not_before.isoformat(),
                "not_after": c.not_after.isoformat(),
                "sha256": c.sha256,
                "ca": c.is_ca,
                "valid_at": not c.expired(result.at) and c.not_before <= result.at,
            }
            for i, c in enumerate(result.chain)
        ],
        "anchors": [
            {
                "id": a.root.id,
                "name": a.root.name,
                "sha256": a.cert.sha256,
                "signs": a.index,
                "sent_by_server": a.sent,
            }
            for a in result.anchors
        ],
        "targets": [
            {
                "target": t.target,
                "trusted": t.trusted,
                "anchor": (
                    {"id": result.root_id(t.anchor), "subject": t.anchor.subject, "sha256": t.anchor.sha256}
                    if t.anchor is not None
                    else None
                ),
                "path": [c.sha256 for c in t.path],
                "route": t.route or None,
                "cross_sign": (
                    {
                        "subject": t.cross_sign.subject_id,
                        "issuer": t.cross_sign.issuer_id,
                        "sha256": t.cross_sign.sha256,
                        "not_after": t.cross_sign.not_after.isoformat(),
                    }
                    if t.cross_sign is not None
                    else None
                ),
                "reason": t.reason or None,
                "notes": list(t.notes),
            }
            for t in result.targets
        ],
        "azure_intermediates": [
            {"index": i, "name": name, "sha1": result.chain[i].sha1} for i, name in result.azure_intermediates
        ],
        "configured_targets": result.configured_targets,
        "missing_cross_signs": [
            {"subject": c.subject_id, "name": c.subject_name, "issuer": c.issuer_id} for c in result.missing_cross_signs
        ],
        "ok": result.ok,
        "verdict": probe_verdict(result),
        "warnings": list(result.warnings),
    }


def probe_unreachable_json(error: ServerUnreachable, starttls: str | None) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "command": "probe",
        "endpoint": error.endpoint,
        "starttls": starttls,
        "reachable": False,
        "reason": error.reason,
        "error": error.detail,
        "ok": False,
    }


def _probed(result: ProbeResult) -> str:
    return f"the chain in {result.chain_file}" if result.chain_file else str(result.endpoint)


def probe_verdict(result: ProbeResult) -> str:
    verdict = _verdict(result)
    if not result.has_leaf:
        verdict += " (as far as the chain goes: the file holds no server certificate)"
    return verdict


def _verdict(result: ProbeResult) -> str:
    where = _probed(result)
    if not result.configured_targets:
        target = result.targets[0]
        scope = f"a store holding profile {target.target.removeprefix('profile:')}'s roots"
        hint = " (no targets configured: pass --target KIND:PATH to check the stores your clients read)"
        if target.trusted:
            return f"OK: {scope} trusts {where}{hint}"
        return f"FAIL: {scope} would reject {where}: {target.reason}{hint}"
    bad = [t for t in result.targets if not t.trusted]
    if not bad:
        return f"OK: every target ({len(result.targets)}) trusts {where}"
    names = ", ".join(t.target for t in bad)
    return f"FAIL: {len(bad)} of {len(result.targets)} targets would reject {where}: {names}"


def _negotiated(result: ProbeResult) -> list[str]:
    """The TLS version and cipher suite the server chose, and what a MySQL server says it is."""
    lines = []
    if result.tls_version:
        legacy = "  BELOW TLS 1.2 (Azure refuses it)" if result.legacy_tls else ""
        cipher = f", cipher {result.cipher}" if result.cipher else ""
        lines.append(f"negotiated {result.tls_version}{cipher}{legacy}")
    if result.server_version:
        lines.append(f"server version {result.server_version} (from its MySQL greeting)")
    return lines


def _anchor_label(result: ProbeResult, cert: Cert | None) -> str:
    if cert is None:
        return "nothing"
    root_id = result.root_id(cert)
    return f"{root_id} ({cert.common_name})" if root_id else repr(cert.common_name)


def probe_text(result: ProbeResult) -> list[str]:
    ep = result.endpoint
    tls = result.tls_version or "TLS"
    how = {"postgres": f"PostgreSQL SSLRequest, then {tls}", "mysql": f"MySQL SSLRequest, then {tls}"}.get(
        ep.starttls or "", tls
    )
    checked = f"name checked: {result.hostname}" if result.hostname else "name not checked (verify-ca)"
    count = f"{len(result.chain)} certificate{'s' if len(result.chain) != 1 else ''}"
    if result.chain_file:
        if not result.has_leaf:
            checked = "name not checked (no server certificate in the file)"
        elif not result.hostname:
            checked = "name not checked (give --servername NAME to check it)"
        lines = [f"probe chain file {result.chain_file} (no connection); {checked}; at {result.at:%Y-%m-%d %H:%M}Z"]
        held = "server certificate first" if result.has_leaf else "no server certificate"
        lines.append(f"chain in the file ({count}, {held}):")
    else:
        lines = [f"probe {ep} ({how}); {checked}; at {result.at:%Y-%m-%d %H:%M}Z"]
        lines.extend(_negotiated(result))
        lines.append(f"chain sent by the server ({count}):")
    for i, c in enumerate(result.chain):
        state = ""
        if c.expired(result.at):
            state = "  EXPIRED"
        elif c.not_before > result.at:
            state = "  NOT YET VALID"
        lines.append(f"  [{i}] {c.subject}")
        lines.append(f"      issuer     {c.issuer}")
        lines.append(f"      not after  {c.not_after:%Y-%m-%d %H:%M}Z{state}")
        lines.append(f"      sha256     {c.sha256}")
    if result.azure_intermediates:
        lines.append("Azure intermediates (on Microsoft's published list; rotated without notice, never pin them):")
        lines.extend(f"  [{i}] {name}" for i, name in result.azure_intermediates)
    if result.anchors:
        lines.append("anchored by catalog roots (by signature):")
        for a in result.anchors:
            itself = "in the file itself" if result.chain_file else "sent by the server itself"
            what = itself if a.sent else f"signs [{a.index}] {result.chain[a.index].common_name}"
            lines.append(f"  {a.root.id} ({a.root.name}): {what}")
    else:
        lines.append("anchored by catalog roots: none (no catalog root signs any certificate of this chain)")
    label = "targets" if result.configured_targets else "no targets configured; the profile's roots"
    lines.append(f"{label} (a client using each store, sslmode={result.sslmode}):")
    for t in result.targets:
        if t.trusted:
            path = " > ".join(c.common_name for c in t.path)
            if t.cross_sign is not None:
                route = (
                    f"through the cross-sign of {t.cross_sign.subject_name} by {t.cross_sign.issuer_id}, "
                    f"valid to {t.cross_sign.not_after}"
                )
            else:
                route = "direct root"
            lines.append(
                f"  {t.target}: trusted, anchored at {_anchor_label(result, t.anchor)}, {route} (path: {path})"
            )
        else:
            lines.append(f"  {t.target}: NOT trusted: {t.reason}")
        lines.extend(f"    note: {n}" for n in t.notes)
    lines.extend(f"warning: {w}" for w in result.warnings)
    lines.append(f"verdict: {probe_verdict(result)}")
    return lines
