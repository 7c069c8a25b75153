"""``make e2e-celery``: exactly once on a distributed deployment, with workers killed or frozen under a send.

What it starts, all on loopback, all in one temporary directory, stopped by PID however it ends:
a throw-away PostgreSQL (``e2e/postgres.sh``), Redis (Debian's ``redis-server``) as the Celery broker,
``moto_server`` as the S3-compatible store of the send ledger, a pass-through in front of it with one port
per worker (``e2e/s3_proxy.py``: it knows which worker asks and can hold one chosen reply), the iSendPro
emulator, the scheduler, dag-processor, triggerer and API server (CeleryExecutor), and two Celery workers
``w1`` and ``w2``, each with its own ``AIRFLOW_HOME`` (two machines; ``hostname_callable`` names each try's
worker) and ``--concurrency 1``. ``[scheduler] task_instance_heartbeat_timeout`` is 20 s (detection every
5 s). The ledger is ``[isendpro] ledger_path = s3://…`` with ``ledger_conn_id = aws_default``; the only AWS
credentials are in that connection (no ``AWS_*`` variable), so the ledger proves it uses them; each
worker's ``aws_default`` reaches S3 through its own port of the pass-through. The iSendPro connection's
timeouts are short (0.5 s connect, 4 s read): they bound how long a retry waits on a live older try.

Scenarios, in order (the DAGs are ``e2e/celery_dags/isendpro_celery_e2e.py`` and the mapped bulk example):

1. **local ledger** — workers without ``[isendpro] ledger_path``: the send is refused before any SMS and
   the task log names ``[isendpro] ledger_path``. On the same workers, an alert fails open: a task failing
   on both tries, ``IsendproNotifier`` on retry and on failure, texts on-call once per failed try (the
   exact texts, each with its try's own end time as the API reports it), and each try's log holds the
   notifier's ERROR line naming ``[isendpro] ledger_path``. The workers are then restarted with the S3
   ledger.
2. **worker killed** (twice: ``on_unknown`` default and ``"warn"``) — batch 4's request is accepted by
   the emulator and held; every process of the worker running the task gets SIGKILL (task process
   included); the retry runs on the other worker. Each recipient received exactly once, batch 4 reported
   in doubt (``unknown``), the task failed (default) or succeeded (``"warn"``).
3. **task process left running** — requests slowed to 1.5 s; SIGKILL to the worker's process group only,
   so its task process goes on sending without heartbeats while the retry starts on the other worker.
   0 duplicates; the old try's last ledger claim record says it stopped "superseded by try 2"; the
   orphan process is gone by the end.
4. **worker frozen at the fence check** (3 runs; issue 18) — 40 recipients in 8 batches, ``retries=1``.
   In batch 3, right after the send's fence check listed the claims (``_claims/``), the pass-through holds
   the reply to the next request (the read of the claim record that listing named), so the process has the
   listing in memory; every process of that worker gets SIGSTOP, the reply is released into the frozen
   socket; Airflow gives up on the try (heartbeat timeout) and the retry runs on the other worker; once the
   retry has sent a batch (the emulator's count), the frozen worker gets SIGCONT and carries on with its
   stale view of the claims. (The listing's own reply cannot be the one held: s3fs reads with a 15 s
   timeout, which fires on resume, and botocore lists again, afresh.)
5. **worker frozen mid-request** (3 runs) — the same, frozen while batch 3's request is in flight: the
   emulator has accepted it and holds the answer; once the worker is frozen the connection is closed.

   For 4 and 5, after the run and the frozen try's task process have ended: no number texted twice (the
   frozen try's late SMS included), and an honest final state: failed, batch 3 reported ``unknown`` and
   every other recipient texted once; or success, every recipient texted exactly once, as the XCom says
   (the result, or ``send_report`` when the task failed). The resumed try, told to stop, still runs for
   a moment: before commit 28112a3 it pushed its own partial ``send_report`` ("superseded by try 2")
   over the last try's, and Airflow kept it (4 runs of 6). On the order the send had before issue 18
   (the claims checked before the batch's ``pending`` write), scenario 4 texted batch 3 twice and ended
   success in 6 runs of 6 (``--provider`` with commit de74625's package). Each run takes 45-60 s: the
   heartbeat timeout, then the retry's wait on the frozen try's lease.
6. **mapped bulk example** — 200 numbers in 4 mapped tasks through the 2-slot pool, on both workers,
   batch files beside the S3 ledger: pool cap held, every SMS once.

Prints one line per check and a table (scenario, recipients, SMS received, duplicates, in doubt, final
state, seconds). Exit status 0 only if every check passed. ``--keep`` keeps the temporary directory;
``--only`` runs some scenario groups, ``--runs`` sets the runs of 4 and 5, ``--provider DIR`` runs every
component on another copy of the provider (e.g. an older commit's, to show what a scenario finds there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from celery_deployment import BUCKET, WORKERS, CeleryDeployment
from run import (
    POOL,
    REPO,
    CheckFailed,
    Checks,
    Emulator,
    Outcome,
    Runner,
    Scenario,
    Sms,
    alive,
    parse_time,
    run_deployment,
    say,
    tail,
    wait_until,
)

BUDGET = 900.0
#: Sizes, as in e2e/celery_dags/isendpro_celery_e2e.py.
RECIPIENTS, BATCH = 60, 5
ZOMBIE_RECIPIENTS, ZOMBIE_BATCH = 120, 3
BULK_SIZE, BULK_BATCH = 200, 50
#: The frozen-worker DAGs: 8 batches; the worker is frozen in batch FREEZE_AT; each scenario runs FREEZE_RUNS
#: times.
FREEZE_RECIPIENTS, FREEZE_BATCH, FREEZE_AT, FREEZE_RUNS = 40, 5, 3, 3
#: A run's expected state when either end can be honest: the scenario judges it (see CeleryRunner._check).
EITHER = "success or failed"
BULK_NUMBERS = tuple(f"0612{300000 + n:06d}" for n in range(BULK_SIZE))

# ----------------------------------------------------------------------------------------------------
# Scenarios


def expected_sms(count: int) -> tuple[Sms, ...]:
    return tuple(Sms(f"0612{400000 + n:06d}", f"Bonjour Client {n}, ") for n in range(count))


@dataclass
class Row:
    label: str
    recipients: int
    received: int = 0
    duplicates: int = 0
    in_doubt: int | str = "-"
    state: str = "not run"
    seconds: float = 0.0


class CeleryRunner(Runner):
    """``e2e/run.py``'s runner, with an action run at each poll of a run (to kill a worker)."""

    deployment: CeleryDeployment

    def __init__(self, deployment: CeleryDeployment, checks: Checks) -> None:
        super().__init__(deployment, checks)
        self.action: Any = None

    def _follow(self, outcome: Outcome, gate: Any) -> None:
        super()._follow(outcome, gate)
        if self.action is not None:
            self.action(outcome)

    def send_ti(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return next(t for t in self.api.task_instances(dag_id, run_id) if t["task_id"] == "send")

    def send_worker(self, dag_id: str, run_id: str) -> tuple[str, str] | None:
        """(worker, hostname) of the worker running the send task, once it runs on one of ours."""
        host = str(self.send_ti(dag_id, run_id).get("hostname") or "")
        worker = host.split("@", maxsplit=1)[0]
        return (worker, host) if worker in WORKERS else None

    def xcom(self, dag_id: str, run_id: str, key: str, task_id: str = "send") -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        value = self.api.get(path)["value"]
        return json.loads(value) if isinstance(value, str) else value

    def row(self, label: str, recipients: int, outcome: Outcome, started: float, in_doubt: Any = "-") -> Row:
        pairs = Counter((s["tel"], s["text"]) for s in outcome.sms)
        return Row(
            label, recipients, len(outcome.sms), sum(n - 1 for n in pairs.values()), in_doubt, outcome.state,
            time.monotonic() - started,
        )  # fmt: skip

    def _check(self, outcome: Outcome) -> None:
        """``e2e/run.py``'s checks; a scenario expecting :data:`EITHER` state judges the state itself."""
        if outcome.scenario.state == EITHER and outcome.state in ("success", "failed"):
            outcome.scenario = replace(
                outcome.scenario, state=outcome.state, task_states={"send": outcome.state}
            )
        super()._check(outcome)


def scenario_local_ledger(runner: CeleryRunner, rows: list[Row]) -> None:
    started = time.monotonic()
    dag_id = "isendpro_celery_local_ledger"
    outcome = runner.run(Scenario(
        "local ledger under CeleryExecutor", dag_id, state="failed", task_states={"send": "failed"}, sms=(),
        timeout=120,
    ))  # fmt: skip
    logs = sorted(runner.deployment.work.glob(f"w*/logs/dag_id={dag_id}/**/*.log"))
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    runner.checks.record(
        "SendSmsOperator refuses to run: its send ledger is on this worker's local disk" in text
        and "[core] executor = CeleryExecutor" in text
        and "Point [isendpro] ledger_path at storage every worker reaches" in text,
        "local ledger: the task log names [isendpro] ledger_path and the executor",
        f"{len(logs)} task logs; {tail(logs[-1]) if logs else 'none'}",
    )
    rows.append(runner.row("local ledger refused", RECIPIENTS, outcome, started))


ALERT_DAG, ALERT_TEL, ALERT_ERROR = (
    "isendpro_celery_alert",
    "0612345691",
    "RuntimeError: warehouse unreachable",
)


def minute(when: datetime) -> str:
    """A time as alerts write it (UTC)."""
    return f"{when.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def scenario_local_ledger_alert(runner: CeleryRunner, rows: list[Row]) -> None:
    """Scenario 1's workers (no ``[isendpro] ledger_path``): the alert is not refused, it fails open."""
    started = time.monotonic()
    heads = {
        1: f"[Airflow] {ALERT_DAG}.load failed, will retry (try 1/2) at ",
        2: f"[Airflow] {ALERT_DAG}.load failed (try 2/2) at ",
    }
    label = "alert, local ledger under CeleryExecutor"
    outcome = runner.run(Scenario(
        label, ALERT_DAG, state="failed", task_states={"load": "failed"},
        sms=tuple(Sms(ALERT_TEL, head) for head in heads.values()), timeout=120,
    ))  # fmt: skip
    # Each try's end, as the API reports it: the failure time its alert must carry. A try that failed for
    # good gets its end date when its process exits, after its failure callback, so its alert may name the
    # minute before (tests/dagruns.py: ended_at).
    base = f"/api/v2/dags/{ALERT_DAG}/dagRuns/{outcome.run_id}/taskInstances/load"
    ends = {
        t["try_number"]: parse_time(t.get("end_date"))
        for t in runner.api.get(f"{base}/tries")["task_instances"]
    }
    for ti in outcome.task_instances:  # the last try, if the history leaves it out
        ends.setdefault(ti["try_number"], parse_time(ti.get("end_date")))
    problems = []
    for n, head in heads.items():
        texts = [s for s in outcome.sms if s["text"].startswith(head)]
        end = ends.get(n)
        if len(texts) != 1 or end is None:
            problems.append(f"try {n}: {len(texts)} SMS, end {end}")
            continue
        sms, allowed = texts[0], {minute(end), minute(end - timedelta(minutes=1))}
        received = datetime.fromtimestamp(float(sms["timestamp"]), timezone.utc)
        if not any(
            sms["text"] == f"{head}{when}: {ALERT_ERROR}" and when <= minute(received) for when in allowed
        ):
            problems.append(f"try {n}: {sms['text']!r} (ended {end:%H:%M:%S}, received {received:%H:%M:%S})")
    runner.checks.record(
        not problems,
        f"{label}: 1 SMS per failed try to {ALERT_TEL}, exactly '... at <its end> UTC: {ALERT_ERROR}'",
        "; ".join(problems),
    )
    said = {}
    for n in heads:
        logs = sorted(
            runner.deployment.work.glob(
                f"w*/logs/dag_id={ALERT_DAG}/run_id={outcome.run_id}/task_id=load/attempt={n}.log"
            )
        )
        errors = [
            entry.get("event", "")
            for path in logs
            for entry in map(_json_line, path.read_text(errors="replace").splitlines())
            if entry.get("level") == "error"
        ]
        said[n] = any(
            "its ledger is on this machine's local disk" in e
            and "[core] executor = CeleryExecutor" in e
            and "set [isendpro] ledger_path to storage every worker reaches" in e
            for e in errors
        )
    runner.checks.record(
        all(said.values()),
        f"{label}: each try's log holds the notifier's ERROR line naming [isendpro] ledger_path",
        f"per try: {said}",
    )
    rows.append(runner.row("alert, local ledger (fails open)", 1, outcome, started))


def _json_line(line: str) -> dict[str, Any]:
    """One line of a task log (JSON lines), or {} for anything else."""
    with contextlib.suppress(ValueError):
        entry = json.loads(line)
        if isinstance(entry, dict):
            return entry
    return {}


def scenario_machine_lost(runner: CeleryRunner, rows: list[Row], *, warn: bool) -> None:
    started = time.monotonic()
    dag_id = "isendpro_celery_kill_warn" if warn else "isendpro_celery_kill"
    emulator = runner.emulator
    emulator.arm(fault="hang_after_accept", path="/smsmulti", after=3, delay=60)  # batch 4: held
    before = emulator.sent_count()
    seen: dict[str, Any] = {}

    def kill(outcome: Outcome) -> None:
        if seen or emulator.sent_count() - before < 4 * BATCH:
            return
        running = runner.send_worker(dag_id, outcome.run_id)
        if running is None:
            return
        worker, host = running
        seen.update(worker=worker, host=host, killed=runner.deployment.kill_machine(worker))
        emulator.release_hangs()
        say(f"   batch 4 held: SIGKILL to every process of {worker} ({len(seen['killed'])} processes)")

    runner.action = kill
    label = f"machine lost ({'on_unknown=warn' if warn else 'default'})"
    try:
        outcome = runner.run(Scenario(
            label, dag_id, state="success" if warn else "failed",
            task_states={"send": "success" if warn else "failed"}, sms=expected_sms(RECIPIENTS), timeout=240,
        ))  # fmt: skip
    finally:
        runner.action = None
        emulator.clear_faults()
        if seen:
            runner.deployment.start_worker(seen["worker"], s3_ledger=True)
    ti = runner.send_ti(dag_id, outcome.run_id)
    runner.checks.record(bool(seen), f"{label}: the worker running the task was killed mid-request")
    # warn: try 2 succeeds; default: try 2 fails on the batch in doubt, and so does try 3 (the truth
    # over the whole send, not the last try)
    tries = 2 if warn else 3
    runner.checks.record(
        ti["try_number"] == tries and bool(seen) and ti.get("hostname") != seen.get("host"),
        f"{label}: {tries - 1} retries, on the other worker ({seen.get('host')} -> {ti.get('hostname')})",
        f"try {ti['try_number']} on {ti.get('hostname')}",
    )
    result = runner.xcom(dag_id, outcome.run_id, "return_value" if warn else "send_report")
    counts = result["counts"]
    runner.checks.record(
        counts["unknown"] == BATCH
        and result["batches"]["unknown"] == 1
        and sum(counts.values()) == result["input"] == RECIPIENTS
        and sum(result["batches"].values()) == RECIPIENTS // BATCH,
        f"{label}: batch 4 in doubt ({BATCH} unknown), every recipient and batch in exactly one bucket",
        f"counts {counts}, batches {result['batches']}",
    )
    if not warn:
        runner.checks.record(
            (result.get("error") or {}).get("type") == "IsendproUnknownOutcomeError",
            f"{label}: failed with IsendproUnknownOutcomeError (on_unknown='fail')",
            str(result.get("error")),
        )
    rows.append(runner.row(label, RECIPIENTS, outcome, started, counts["unknown"]))


def scenario_orphan(runner: CeleryRunner, rows: list[Row]) -> None:
    started = time.monotonic()
    dag_id = "isendpro_celery_zombie"
    emulator = runner.emulator
    emulator.arm(fault="slow", path="/smsmulti", times=None, delay=1.5)
    before = emulator.sent_count()
    seen: dict[str, Any] = {}

    def kill(outcome: Outcome) -> None:
        if seen or emulator.sent_count() - before < 3 * ZOMBIE_BATCH:
            return
        running = runner.send_worker(dag_id, outcome.run_id)
        if running is None:
            return
        worker, host = running
        seen.update(worker=worker, host=host, survivors=runner.deployment.kill_worker_group(worker))
        say(f"   SIGKILL to {worker}'s process group; still running: {seen['survivors']}")

    runner.action = kill
    label = "task process left running"
    try:
        outcome = runner.run(Scenario(label, dag_id, sms=expected_sms(ZOMBIE_RECIPIENTS), timeout=300))
    finally:
        runner.action = None
        emulator.clear_faults()
    survivors = seen.get("survivors") or []
    runner.checks.record(bool(survivors), f"{label}: the task process outlived its worker", str(seen))
    with contextlib.suppress(CheckFailed):
        wait_until("the orphan task process to exit", lambda: not any(alive(p) for p in survivors), 60)
    runner.checks.record(
        not any(alive(p) for p in survivors),
        f"{label}: the orphan task process stopped by itself",
        f"still alive: {[p for p in survivors if alive(p)]}",
    )
    notes = claim_notes(runner.deployment, dag_id)
    first = notes.get(1, "")
    runner.checks.record(
        first.startswith("IsendproSupersededError: superseded by try 2"),
        f"{label}: try 1's last claim record says it stopped superseded by try 2",
        f"claim notes: {notes}",
    )
    if seen:
        runner.deployment.start_worker(seen["worker"], s3_ledger=True)
    result = runner.xcom(dag_id, outcome.run_id, "return_value")
    counts = result["counts"]
    runner.checks.record(
        sum(counts.values()) == result["input"] == ZOMBIE_RECIPIENTS
        and counts["already_sent"] + counts["sent"] == ZOMBIE_RECIPIENTS,
        f"{label}: try 2's report: {counts['already_sent']} sent by try 1, {counts['sent']} by try 2",
        f"counts {counts}",
    )
    rows.append(runner.row(label, ZOMBIE_RECIPIENTS, outcome, started, counts["unknown"]))


def claim_notes(deployment: CeleryDeployment, dag_id: str, run_id: str = "") -> dict[int, str]:
    """The note of each try's last claim record (the ledger's ``_claims`` folder, read from S3), for one
    run (``run_id``: made of characters that are their own path segment) or every run of ``dag_id``."""
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=deployment.s3_url, region_name="us-east-1",
        aws_access_key_id="e2e-fake-access-key", aws_secret_access_key="e2e-fake-secret-key",  # noqa: S106
    )  # fmt: skip
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"ledger/{dag_id}/" + (f"{run_id}/" if run_id else ""))
    latest: dict[int, tuple[int, str]] = {}
    for item in listing.get("Contents", []):
        key = item["Key"]
        if "/_claims/" not in key:
            continue
        attempt, seq = (int(part.lstrip("t")) for part in key.rsplit("/", 1)[1].split(".")[:2])
        if seq >= latest.get(attempt, (-1, ""))[0]:
            latest[attempt] = (seq, key)
    notes = {}
    for attempt, (_, key) in latest.items():
        record = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        notes[attempt] = str(record.get("note", ""))
    return notes


class Freeze:
    """The runner's action for a frozen-worker scenario: freeze the worker running the send whole (SIGSTOP
    of every process, its task process included) at a chosen step of batch FREEZE_AT, then resume it
    (SIGCONT) once the retry, on the other worker, has sent a batch.

    ``at="check"``: right after the fence check listed the claims (``_claims/``) in that batch, with that
    listing in memory: the proxy holds the reply to the next request, the read of the claim record the
    listing named, until the worker is frozen. (Not the listing's own reply: s3fs reads with a 15 s
    timeout, which fires once the process is resumed, and botocore then lists again, afresh.)
    ``at="request"``: the batch's request accepted by the emulator and held, the worker frozen before
    the answer, which never comes (the connection closes while the worker is frozen)."""

    def __init__(self, runner: CeleryRunner, dag_id: str, at: str) -> None:
        self.deployment, self.emulator, self.runner = runner.deployment, runner.emulator, runner
        assert self.deployment.proxy is not None
        self.proxy = self.deployment.proxy
        self.dag_id = dag_id
        self.before = self.emulator.sent_count()
        #: SMS received when batch FREEZE_AT comes up
        self.threshold = self.before + (FREEZE_AT - 1) * FREEZE_BATCH
        self.worker = ""
        self.frozen_at = self.sent_at_freeze = 0.0
        self.frozen: list[int] = []
        self.resumed = False
        self.in_place = False
        self.hold = None
        if at == "check":
            probe = Emulator(self.emulator.root)  # asked from the proxy's threads: a session of its own
            self.hold = self.proxy.hold(
                lambda request: (
                    request.method == "GET"
                    and not request.is_listing()
                    and f"/ledger/{dag_id}/" in request.path
                    and "/_claims/t" in request.path
                    and probe.sent_count() >= self.threshold
                )
            )
        else:
            self.emulator.arm(fault="hang_after_accept", path="/smsmulti", after=FREEZE_AT - 1, delay=60)

    def __call__(self, outcome: Outcome) -> None:
        if not self.frozen:
            self._freeze(outcome)
        elif not self.resumed and self.emulator.sent_count() - self.sent_at_freeze >= FREEZE_BATCH:
            self.resume()

    def _freeze(self, outcome: Outcome) -> None:
        if self.hold is not None:
            if not self.hold.held.is_set():
                return
            self.worker = self.hold.worker
        else:
            running = self.runner.send_worker(self.dag_id, outcome.run_id)
            if running is None or self.emulator.sent_count() < self.threshold + FREEZE_BATCH:
                return
            self.worker = running[0]
        self.frozen = self.deployment.freeze_machine(self.worker)
        self.frozen_at, self.sent_at_freeze = time.monotonic(), self.emulator.sent_count()
        # Frozen where meant: at the check, batch FREEZE_AT not yet requested; mid-request, it was, and
        # no outcome of it is recorded yet (its request did not time out before the freeze).
        requested = self.threshold + (FREEZE_BATCH if self.hold is None else 0)
        run = f"/ledger/{self.dag_id}/{outcome.run_id}/"
        outcomes = [r for r in self.proxy.seen if run in r.path and r.path.endswith(".unknown.json")]
        self.in_place = self.sent_at_freeze == requested and not outcomes
        if self.hold is not None:
            self.hold.release()  # the reply waits in the frozen process's socket
        else:
            self.emulator.release_hangs()  # the connection closes under the frozen process
        say(f"   batch {FREEZE_AT}: {self.worker} frozen (SIGSTOP to {len(self.frozen)} processes)")

    def resume(self) -> None:
        if self.frozen and not self.resumed:
            self.deployment.resume_machine(self.worker)
            self.resumed = True
            sent = self.emulator.sent_count() - self.sent_at_freeze
            frozen_for = time.monotonic() - self.frozen_at
            say(f"   {self.worker} resumed after {frozen_for:.0f} s (the retry has sent {sent} SMS)")

    def end(self) -> None:
        """Disarm whatever did not fire; resume the worker if the retry ended between two polls."""
        if self.hold is not None:
            self.proxy.disarm(self.hold)
        self.emulator.clear_faults()
        self.resume()


def scenario_frozen(runner: CeleryRunner, rows: list[Row], *, at: str, run: int) -> None:
    """See :class:`Freeze`; then 0 duplicates (the frozen try's late SMS included) and an honest end."""
    started = time.monotonic()
    deployment = runner.deployment
    dag_id = f"isendpro_celery_freeze_{at}"
    for worker in WORKERS:
        deployment.wait_ready(worker)  # the retry must find the other worker ready
    freeze = Freeze(runner, dag_id, at)
    label = f"frozen {'at the fence check' if at == 'check' else 'mid-request'} (run {run})"
    runner.action = freeze
    try:
        outcome = runner.run(Scenario(label, dag_id, state=EITHER, sms=None, timeout=180))
    finally:
        runner.action = None
        freeze.end()
    ti = runner.send_ti(dag_id, outcome.run_id)
    retry_host = str(ti.get("hostname") or "").split("@")[0]
    runner.checks.record(
        freeze.in_place
        and freeze.resumed
        and ti["try_number"] == 2
        and retry_host not in ("", freeze.worker),
        f"{label}: {freeze.worker or 'the worker'} frozen in batch {FREEZE_AT}, the retry on "
        f"{retry_host or '?'}, the frozen worker resumed after the retry sent a batch",
        f"frozen {freeze.frozen} (where meant: {freeze.in_place}, after "
        f"{freeze.sent_at_freeze - freeze.before:.0f} SMS), resumed {freeze.resumed}, "
        f"try {ti['try_number']} on {ti.get('hostname')}",
    )
    # The frozen try, resumed, may still send before it stops: wait for it, then take every SMS again.
    with contextlib.suppress(CheckFailed):
        wait_until("the frozen try to exit", lambda: not deployment.task_processes(freeze.worker), 60)
    left = deployment.task_processes(freeze.worker) if freeze.worker else []
    runner.checks.record(
        not left, f"{label}: the frozen try's task process ended once resumed", f"alive: {left}"
    )
    outcome.sms = runner.emulator.sent(freeze.before)
    say(f"   claim notes: {claim_notes(deployment, dag_id, outcome.run_id)}")
    in_doubt = check_honest(runner, label, outcome, dag_id)
    rows.append(runner.row(label, FREEZE_RECIPIENTS, outcome, started, in_doubt))


def check_honest(runner: CeleryRunner, label: str, outcome: Outcome, dag_id: str) -> Any:
    """0 duplicates, and a final state that tells the truth: failed with batch FREEZE_AT (and nothing else)
    reported ``unknown``, or success with every recipient accepted exactly once. Returns the in-doubt
    count."""
    tels = [s.tel for s in expected_sms(FREEZE_RECIPIENTS)]
    received = Counter(s["tel"] for s in outcome.sms)
    twice = sorted(t for t, n in received.items() if n > 1)
    strangers = sorted(set(received) - set(tels))
    runner.checks.record(
        not twice and not strangers,
        f"{label}: no number texted twice ({len(outcome.sms)} SMS, the frozen try's included)",
        f"twice: {twice}; not a recipient: {strangers}",
    )
    result = runner.xcom(
        dag_id, outcome.run_id, "send_report" if outcome.state == "failed" else "return_value"
    )
    counts, error = result["counts"], (result.get("error") or {}).get("type")
    status = {r["index"]: r["status"] for r in result.get("recipients") or []}
    accepted = {i for i, st in status.items() if st in ("sent", "already_sent")}
    unknown = {i for i, st in status.items() if st == "unknown"}
    batch = set(range((FREEZE_AT - 1) * FREEZE_BATCH, FREEZE_AT * FREEZE_BATCH))
    once = all(received[tels[i]] == 1 for i in accepted)
    if outcome.state == "failed":
        others = set(range(FREEZE_RECIPIENTS)) - batch
        honest = once and unknown == batch and accepted == others and error == "IsendproUnknownOutcomeError"
        what = f"failed, batch {FREEZE_AT} reported in doubt ({len(unknown)} unknown), the others texted once"
    else:
        honest = once and len(accepted) == FREEZE_RECIPIENTS and not unknown
        what = "success, every recipient texted exactly once"
    runner.checks.record(
        honest and len(status) == result["input"] == sum(counts.values()) == FREEZE_RECIPIENTS,
        f"{label}: an honest final state: {what}",
        f"state {outcome.state}, counts {counts}, unknown {sorted(unknown)}, error {result.get('error')}, "
        f"received {dict(received)}",
    )
    return counts["unknown"]


def scenario_bulk(runner: CeleryRunner, rows: list[Row]) -> None:
    """The mapped bulk example on two machines, for certain: ``prepare_batches`` runs on w1 alone (w2
    stopped, the pool at 0 slots so that no batch starts), then w1 stops, w2 starts, the pool reopens and
    w2 sends every batch from the files w1 wrote beside the S3 ledger. (Left to Celery, one idle worker
    may take every task of a short run: seen once in CI.)"""
    started = time.monotonic()
    deployment = runner.deployment
    dag_id = "isendpro_bulk_mapped"
    writer, reader = WORKERS
    deployment.stop_worker(reader)
    deployment.wait_ready(writer)  # it may have been restarted by the previous scenario
    deployment.set_pool_slots(0)
    handed_over: list[str] = []

    def hand_over(outcome: Outcome) -> None:
        if handed_over:
            return
        prepare = [
            t for t in runner.api.task_instances(dag_id, outcome.run_id) if t["task_id"] == "prepare_batches"
        ]
        if not prepare or prepare[0]["state"] != "success":
            return
        handed_over.append(str(prepare[0].get("hostname") or ""))
        deployment.stop_worker(writer)
        deployment.start_worker(reader, s3_ledger=True)
        deployment.wait_ready(reader)
        deployment.set_pool_slots(int(POOL[1]))
        say(f"   batch files written on {handed_over[0]}: {writer} stopped, {reader} sends every batch")

    runner.action = hand_over
    try:
        outcome = runner.run(Scenario(
            "isendpro_bulk_mapped (2 workers)", dag_id,
            conf={"demo_size": BULK_SIZE, "batch_size": BULK_BATCH},
            sms=tuple(Sms(tel, "Votre colis est arriv") for tel in BULK_NUMBERS),
            pool=("isendpro", int(POOL[1])), timeout=240,
        ))  # fmt: skip
    finally:
        runner.action = None
        if not handed_over:
            deployment.set_pool_slots(int(POOL[1]))
    hosts: dict[str, set[str]] = {"prepare_batches": set(), "send_batch": set()}
    for ti in outcome.task_instances:
        if ti["task_id"] in hosts:
            hosts[ti["task_id"]].add(str(ti.get("hostname") or "").split("@")[0])
    runner.checks.record(
        hosts == {"prepare_batches": {writer}, "send_batch": {reader}},
        f"bulk: batch files written on {writer} (prepare_batches), every batch sent from them on {reader}",
        str(hosts),
    )
    rows.append(runner.row("mapped bulk example", BULK_SIZE, outcome, started))


def table(rows: list[Row]) -> None:
    say("")
    header = f"{'scenario':<36} {'recipients':>10} {'SMS received':>12} {'duplicates':>10} {'in doubt':>8}  "
    header += f"{'final state':<11} {'seconds':>7}"
    say(header)
    say("-" * len(header))
    for r in rows:
        say(
            f"{r.label:<36} {r.recipients:>10} {r.received:>12} {r.duplicates:>10} {r.in_doubt!s:>8}  "
            f"{r.state:<11} {r.seconds:>7.0f}"
        )


#: Scenario groups, in the order they run (``--only`` picks some).
GROUPS = ("local-ledger", "machine-lost", "orphan", "frozen-check", "frozen-request", "bulk")


def exercise(
    deployment: CeleryDeployment, checks: Checks, rows: list[Row], groups: set[str], runs: int
) -> None:
    runner = CeleryRunner(deployment, checks)
    say("== DAGs")
    runner.wait_for_dags({
        "isendpro_celery_kill", "isendpro_celery_kill_warn", "isendpro_celery_zombie",
        "isendpro_celery_local_ledger", "isendpro_celery_freeze_check", "isendpro_celery_freeze_request",
        "isendpro_bulk_mapped", ALERT_DAG,
    })  # fmt: skip
    if "local-ledger" in groups:
        say("== workers without [isendpro] ledger_path")
        deployment.start_workers(s3_ledger=False)
        scenario_local_ledger(runner, rows)
        scenario_local_ledger_alert(runner, rows)
        for worker in WORKERS:
            deployment.stop_worker(worker)
    say("== workers with [isendpro] ledger_path = s3://… and ledger_conn_id = aws_default")
    deployment.start_workers(s3_ledger=True)
    if "machine-lost" in groups:
        scenario_machine_lost(runner, rows, warn=False)
        scenario_machine_lost(runner, rows, warn=True)
    if "orphan" in groups:
        scenario_orphan(runner, rows)
    for at in ("check", "request"):
        if f"frozen-{at}" in groups:
            for run in range(1, runs + 1):
                scenario_frozen(runner, rows, at=at, run=run)
    if "bulk" in groups:
        scenario_bulk(runner, rows)
    total, accounted = runner.emulator.sent_count(), sum(r.received for r in rows)
    checks.record(total == accounted, f"no SMS outside the runs ({total} received, {accounted} accounted)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e/run_celery.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--budget", type=float, default=BUDGET, help="give up after this many seconds")
    parser.add_argument(
        "--only", nargs="+", choices=GROUPS, default=list(GROUPS), help="run these scenario groups only"
    )
    parser.add_argument(
        "--runs", type=int, default=FREEZE_RUNS, help="runs of each frozen-worker scenario (default: 3)"
    )
    parser.add_argument(
        "--provider", metavar="DIR",
        help="a folder holding another copy of airflow_provider_isendpro (e.g. `git archive <commit> "
        "airflow_provider_isendpro | tar -x -C DIR`), put first on every component's PYTHONPATH: shows "
        "what a scenario finds on an older commit",
    )  # fmt: skip
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="isendpro-e2e-celery-"))
    dags = work / "dags"
    dags.mkdir()
    shutil.copy(REPO / "e2e" / "celery_dags" / "isendpro_celery_e2e.py", dags)
    shutil.copy(REPO / "dags_examples" / "example_isendpro_bulk_mapped.py", dags)
    deployment = CeleryDeployment(work, dags)
    if args.provider:
        deployment.pythonpath.insert(0, str(Path(args.provider).resolve()))
    checks = Checks()
    rows: list[Row] = []

    return run_deployment(
        "e2e-celery", work, deployment, checks=checks,
        scenarios=lambda: exercise(deployment, checks, rows, set(args.only), args.runs),
        report=lambda: table(rows), budget=args.budget, keep=args.keep, started=started,
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
