"""The soak's task (tests/perf/test_broker_soak.py): records that message `n` ran, and how long after it was sent.

Loaded into the real worker with `celery -A annotator worker --include tests.perf.soak_tasks`. Idempotent: a
second run of one message appends a second line, which the soak counts as a duplicate (none expected).
"""

import os
import time

from celery import shared_task


@shared_task(name="tests.perf.soak_tasks.soak_record", ignore_result=True, acks_late=True, time_limit=30)
def soak_record(n: int, sent_at: float) -> None:
    line = f"{n} {time.time() - sent_at:.4f} {os.getpid()}\n".encode()
    fd = os.open(os.environ["SOAK_RECORD_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)  # one small O_APPEND write: lines of concurrent pool processes never interleave
    finally:
        os.close(fd)
