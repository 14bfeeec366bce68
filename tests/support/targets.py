"""Configs with targets, the pins the store tests look for, and rotator's error lines."""

from __future__ import annotations

from pathlib import Path

G1 = "4348a0e9444c78cb265e058d5e8944b4d84f9662bd26db257f8934a443c70161"
G2 = "cb3ccbb76031e5e0138f8dd39a23f9de47ffc35e43c1144cea27d46a5ab1cb5f"
MS_RSA = "c741f70f4b2a8d88bf2e71c14122ef53ef10eba0cfa5e64cfa20f418853073e0"
MS_TLS = "6a170583db584151e1c454eeca2a64cc5d8e484a5bd1156e720b4458654ee9e5"
POSTGRES = {"digicert-global-root-g2": G2, "microsoft-rsa-root-2017": MS_RSA, "microsoft-tls-rsa-root-g2": MS_TLS}
DEBIAN_G2 = "debian:digicert_global_root_g2.pem"
DEBIAN_MS_RSA = "debian:microsoft_rsa_root_certificate_authority_2017.pem"
DEBIAN_G1 = "debian:digicert_global_root_ca.pem"
PW = "changeit"


def toml_targets(*targets: dict[str, object], extra: str = "") -> str:
    lines = [extra] if extra else []
    for target in targets:
        lines.append("[[targets]]")
        for key, value in target.items():
            if isinstance(value, list):
                lines.append(f"{key} = [{', '.join(repr(str(v)) for v in value)}]")
            else:
                lines.append(f"{key} = {str(value)!r}")
    return "\n".join(lines).replace("'", '"') + "\n"


def write_config(tmp_path: Path, *targets: dict[str, object], extra: str = "") -> Path:
    config = tmp_path / "rotator.toml"
    config.write_text(toml_targets(*targets, extra=extra))
    return config


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rotator: error:")]
