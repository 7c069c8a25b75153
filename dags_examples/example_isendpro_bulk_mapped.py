"""A very large list: split it into files, send each file as one mapped task, cap the calls with a pool.

What this example shows
-----------------------
* ``prepare_batches`` streams the source list (a local path or an object-storage URL such as
  ``s3://bucket/contacts.csv``), normalises and de-duplicates it, writes files of ``batch_size`` numbers
  and returns their paths: the XCom stays small however long the list is (paths, not numbers).
* ``SendSmsOperator.partial(...).expand(recipients_file=...)`` creates one task per file (dynamic task
  mapping). Each mapped task validates, de-duplicates and sends its file in ``/smsmulti`` requests of
  500, with its own send ledger: retrying one batch never re-sends the others, nor itself.
* ``pool="isendpro"`` caps how many batches call iSendPro at once, across every DAG that uses the pool.
  Create it once: ``airflow pools set isendpro 4 "iSendPro API calls"``.
* ``summarise`` adds the mapped results up.

Without ``source`` the DAG makes a demo list of ``demo_size`` obviously fake French mobiles
(06 12 3x xx xx).

On several machines (Celery, Kubernetes) it works unchanged: the batch files go beside the send ledger
(``[isendpro] ledger_path``, read with ``[isendpro] ledger_conn_id``), which must already be storage
every worker reaches (``s3://…``) for ``SendSmsOperator`` to send at all; so the worker that runs a
mapped task reads the file another worker wrote. ``work_dir`` overrides that place.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_isendpro.operators.sms import SendSmsOperator

with DAG(
    dag_id="isendpro_bulk_mapped",
    description="Send to a very large list in mapped batches, with an Airflow pool capping API calls",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=16,
    params={
        "source": Param("", type="string", description="CSV with a 'number' column (path or URL)"),
        "demo_size": Param(2500, type="integer", minimum=1, description="Demo list size (no source)"),
        "batch_size": Param(1000, type="integer", minimum=1, description="Numbers per mapped task"),
        "work_dir": Param(
            "", type="string", description="Where batch files go (empty: beside [isendpro] ledger_path)"
        ),
    },
    tags=["isendpro", "example", "bulk"],
) as dag:

    @task
    def prepare_batches(params: dict[str, Any] | None = None, run_id: str | None = None) -> list[str]:
        """Stream the list into ``batch-00000.csv``, ``batch-00001.csv``... and return their paths.

        Numbers are normalised and de-duplicated across the whole list here (the same person written
        ``06 12…`` in one place and ``+33 6 12…`` in another gets one SMS), since each mapped task
        only sees its own file. Invalid numbers are counted and left out.
        """
        import csv
        import re
        from collections.abc import Iterator

        from airflow.sdk import ObjectStoragePath, get_current_context

        from airflow_provider_isendpro.sending.location import resolve_ledger
        from airflow_provider_isendpro.sms import mask_number, normalise_numbers

        params = params or {}
        size = int(params["batch_size"])

        def numbers() -> Iterator[str]:
            if params["source"]:
                with ObjectStoragePath(params["source"]).open("r") as handle:
                    for row in csv.DictReader(handle):
                        yield row["number"]
            else:  # 06 12 30 00 00, 06 12 30 00 01, ...: fake but valid French mobiles
                for n in range(int(params["demo_size"])):
                    yield f"0612{300000 + n:06d}"

        ledger = resolve_ledger()  # the same storage, and credentials, as the send ledger's
        work_dir = params["work_dir"] or ledger.child("_bulk").root
        base = (
            ObjectStoragePath(work_dir, conn_id=ledger.conn_id)
            if "://" in work_dir
            else ObjectStoragePath(work_dir)
        )
        folder = base / re.sub(r"[^A-Za-z0-9_.-]", "_", str(run_id))
        folder.mkdir(parents=True, exist_ok=True)
        paths: list[str] = []
        batch: list[str] = []
        counts = {"input": 0, "valid": 0, "duplicate": 0, "invalid": 0}

        def flush() -> None:
            path = folder / f"batch-{len(paths):05d}.csv"
            path.write_text("number\n" + "\n".join(batch) + "\n")
            paths.append(str(path))
            batch.clear()

        for outcome in normalise_numbers(numbers()):
            counts["input"] += 1
            counts[outcome.status.value] += 1
            if outcome.number is None:
                print(f"left out invalid number #{outcome.index} ({mask_number(outcome.raw)})")
            elif outcome.status.value == "valid":
                batch.append(outcome.number.wire)
                if len(batch) == size:
                    flush()
        if batch:
            flush()
        print(f"{counts['valid']} numbers in {len(paths)} batch files; {counts}")
        get_current_context()["ti"].xcom_push(key="counts", value=counts)
        return paths

    send_batch = SendSmsOperator.partial(
        task_id="send_batch",
        text="Votre colis est arrivé en point relais. Retrait sous 10 jours avec une pièce d'identité.",
        number_field="number",
        max_segments=1,
        batch_size=500,  # numbers per /smsmulti request inside one mapped task
        on_invalid="skip",  # belt and braces: prepare_batches already left invalid numbers out
        pool="isendpro",  # at most <pool slots> batches call iSendPro at the same time
        retries=2,  # safe: each batch's ledger skips what it already sent
        max_active_tis_per_dag=8,
    ).expand(recipients_file=prepare_batches())

    @task
    def summarise(results: list[dict[str, Any]]) -> dict[str, int]:
        """Totals over every batch: each recipient counted in exactly one bucket."""
        totals: dict[str, int] = {}
        for result in results:
            for bucket, count in result["counts"].items():
                totals[bucket] = totals.get(bucket, 0) + count
        print(f"{len(results)} batches: {totals}")
        return totals

    summarise(send_batch.output)
