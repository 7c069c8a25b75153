"""``python -m airflow_provider_isendpro.testing``: run the emulator in the foreground, or list what it got.

``python -m airflow_provider_isendpro.testing [--port N] [--api-key KEY] [--quiet]`` prints a banner (base
URL, accepted key, a ready-to-paste ``export AIRFLOW_CONN_ISENDPRO_DEFAULT=...``), writes the base URL to
``--ready-file`` once listening (scripts wait for the file instead of sleeping), then prints one line per
API request (method, path, recipients, segments, outcome; never the key) until SIGTERM or SIGINT, and
exits 0. ``--quiet`` keeps the banner and drops the request lines.

``python -m airflow_provider_isendpro.testing sent --url http://127.0.0.1:8025`` lists the SMS a running
emulator accepted (the same as ``GET <url>/_emulator/sent``, which returns JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from .config import DEFAULT_API_KEY, EmulatorConfig
from .emulator import IsendproEmulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_isendpro.testing",
        description="Local iSendPro emulator (a test double: it never delivers anything).",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--credit", type=float, default=None, help="starting credit in euros (default 100)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted keyid (repeatable; default {DEFAULT_API_KEY!r})",
    )
    parser.add_argument("--ready-file", default=None, help="write the base URL to this file once listening")
    parser.add_argument(
        "--config",
        default=None,
        metavar="JSON",
        help="EmulatorConfig fields as a JSON object, or @path to a JSON file",
    )
    parser.add_argument(
        "--dlr-url",
        default=None,
        metavar="URL",
        help="send a delivery receipt for each accepted SMS to this URL (GET ?tel=&statut=&tracker=)",
    )
    parser.add_argument(
        "--dlr-delay", type=float, default=None, metavar="SECONDS", help="delay of each receipt (default 0)"
    )
    parser.add_argument("--no-record-requests", action="store_true", help="keep counters only (benchmarks)")
    parser.add_argument("--no-record-sent", action="store_true", help="keep counters only (benchmarks)")
    parser.add_argument("--quiet", action="store_true", help="no line per request (the banner stays)")
    commands = parser.add_subparsers(dest="command", metavar="{sent}")
    sent = commands.add_parser("sent", help="list the SMS a running emulator accepted")
    sent.add_argument("--url", required=True, help="the emulator's URL, e.g. http://127.0.0.1:8025")
    sent.add_argument("--json", action="store_true", help="print the raw JSON of GET /_emulator/sent")
    return parser


def banner(base_url: str, api_key: str) -> list[str]:
    """What the CLI prints once listening (the README's tutorial shows it; a test keeps the two equal)."""
    root = base_url.removesuffix("/cgi-bin")
    conn = json.dumps({"conn_type": "isendpro", "host": base_url, "password": api_key})
    return [
        f"iSendPro emulator listening on {base_url} (a test double: it delivers nothing)",
        f"API key: {api_key}",
        "Point Airflow at it (in the shell that runs Airflow):",
        f"  export AIRFLOW_CONN_ISENDPRO_DEFAULT='{conn}'",
        f"SMS received: python -m airflow_provider_isendpro.testing sent --url {root}",
        "One line per request follows (--quiet to silence). Ctrl+C stops the emulator.",
    ]


def dlr_banner(config: EmulatorConfig) -> list[str]:
    """The banner's line about delivery receipts, when they are on: the receiver's address without its
    path or query (they may hold the receiver's secret, and the banner goes to logs)."""
    if config.dlr_url is None:
        return []
    split = urlsplit(config.dlr_url)
    return [
        f"Delivery receipts: {config.dlr_method} {split.scheme}://{split.netloc}/... "
        f"{config.dlr_delay:g} s after each accepted SMS (path not shown)"
    ]


def format_sms(sms: dict[str, Any]) -> str:
    """One accepted SMS as a line of ``sent``."""
    parts = [str(sms["tel"]), f"{sms['segments']} segment{'' if sms['segments'] == 1 else 's'}"]
    parts.append(str(sms["encoding"]))
    if sms.get("sender"):
        parts.append(f"from {sms['sender']}")
    if sms.get("date_envoi"):
        parts.append(f"at {sms['date_envoi']}")
    if sms.get("sandbox"):
        parts.append("sandbox")
    return "  ".join(parts) + f"  {json.dumps(sms['text'], ensure_ascii=False)}"


def _line_printer() -> Callable[[str], None]:
    """Print whole lines from the server's threads: one write per line, under a lock, so none interleave."""
    lock = threading.Lock()

    def write(line: str) -> None:
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    return write


def _sent(url: str, raw_json: bool) -> int:
    root = url.rstrip("/").removesuffix("/cgi-bin")
    if not root.startswith(("http://", "https://")):
        print(
            f"--url must be the emulator's http URL, e.g. http://127.0.0.1:8025, got {url!r}", file=sys.stderr
        )
        return 2
    try:
        with urllib.request.urlopen(f"{root}/_emulator/sent", timeout=10) as response:  # noqa: S310 (user's URL)
            payload = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        print(f"could not read {root}/_emulator/sent: {exc}; is the emulator running there?", file=sys.stderr)
        return 1
    if raw_json:
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    print(f"{payload['count']} SMS received")
    for sms in payload["sent"]:
        print(format_sms(sms))
    return 0


def _config(args: argparse.Namespace) -> EmulatorConfig:
    fields: dict[str, Any] = {}
    if args.config:
        text = args.config
        if text.startswith("@"):
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        loaded = json.loads(text)
        if not isinstance(loaded, dict):
            raise SystemExit("--config must be a JSON object")
        fields.update(loaded)
    if args.credit is not None:
        fields["credit"] = args.credit
    if args.dlr_url is not None:
        fields["dlr_url"] = args.dlr_url
    if args.dlr_delay is not None:
        fields["dlr_delay"] = args.dlr_delay
    if args.no_record_requests:
        fields["record_requests"] = False
    if args.no_record_sent:
        fields["record_sent"] = False
    return EmulatorConfig().replace(**fields)


def _write_ready(path: str, base_url: str) -> None:
    """Atomic, so a poller never reads half a URL."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".emulator-ready-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(base_url + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sent":
        return _sent(args.url, args.json)
    try:
        config = _config(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    emulator = IsendproEmulator(
        config, host=args.host, port=args.port, api_keys=args.api_keys or (DEFAULT_API_KEY,)
    )
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if not args.quiet:
        emulator.request_log = _line_printer()
    base_url = emulator.start()
    try:
        print("\n".join(banner(base_url, emulator.api_key) + dlr_banner(config)), flush=True)
        if args.ready_file:
            _write_ready(args.ready_file, base_url)
        while not done.wait(1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
