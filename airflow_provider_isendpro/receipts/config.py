"""The receiver's settings from ``[isendpro]``: the URL's secret and the allowed source networks.

Read at each use (not at import): the API server imports the plugin once at start-up, and a setting
changed through ``AIRFLOW__ISENDPRO__...`` in a test or a secrets backend must be seen.
"""

from __future__ import annotations

import ipaddress

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def dlr_secret() -> str:
    """``[isendpro] dlr_secret`` (also from ``dlr_secret_cmd`` / ``dlr_secret_secret``: the option is
    declared sensitive), stripped; empty when unset."""
    from airflow_provider_isendpro._compat import conf

    return str(conf.get("isendpro", "dlr_secret", fallback="") or "").strip()


def receipts_configured() -> bool:
    """True when a receiver is set up (``[isendpro] dlr_secret`` is set): the delivery sensor's
    ``source="auto"`` then waits for receipts, else it polls the ``/campagne`` report."""
    return bool(dlr_secret())


def allowed_networks() -> tuple[IPNetwork, ...]:
    """``[isendpro] dlr_allowed_networks``: comma-separated CIDRs; empty: any source address.

    :raises IsendproConfigError: naming the entry that is not a network.
    """
    from airflow_provider_isendpro._compat import conf

    text = str(conf.get("isendpro", "dlr_allowed_networks", fallback="") or "")
    return parse_networks(text)


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    networks = []
    for item in text.split(","):
        entry = item.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            from airflow_provider_isendpro.errors import IsendproConfigError

            raise IsendproConfigError(
                f"[isendpro] dlr_allowed_networks: {entry[:50]!r} is not an address or network "
                "(write CIDRs separated by commas, e.g. 203.0.113.0/24, 2001:db8::/32)"
            ) from None
    return tuple(networks)
