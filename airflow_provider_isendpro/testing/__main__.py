"""``python -m airflow_provider_isendpro.testing``: run the emulator in the foreground.

Prints the base URL on one line (and writes it to ``--ready-file`` once listening, so scripts can wait
for the file instead of sleeping), then serves until SIGTERM or SIGINT and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
from types import FrameType
from typing import Any

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
    parser.add_argument("--no-record-requests", action="store_true", help="keep counters only (benchmarks)")
    parser.add_argument("--no-record-sent", action="store_true", help="keep counters only (benchmarks)")
    return parser


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
    base_url = emulator.start()
    try:
        print(base_url, flush=True)
        if args.ready_file:
            _write_ready(args.ready_file, base_url)
        while not done.wait(1.0):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
