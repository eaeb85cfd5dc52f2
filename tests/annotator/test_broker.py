"""The embedded broker (annotator/broker.py): kombu's filesystem transport, made safe for concurrent use.

kombu's own channel creates a message file under its final name and then writes it, so a consumer could read
it half written (the worker's consumer died on a JSON error), and consumers raced for one file. Each test
below fails with `kombu.transport.filesystem.Transport` in place of ours (KOMBU_TRANSPORT below)."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from annotator.broker import Transport

ROOT = Path(__file__).resolve().parents[2]
TRANSPORT = Transport  # swap for kombu.transport.filesystem.Transport to see the races these tests pin


def connect(folder: Path) -> Connection:
    for sub in ("in", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return Connection(
        "filesystem://",
        transport=TRANSPORT,
        transport_options={
            "data_folder_in": str(folder / "in"),
            "data_folder_out": str(folder / "in"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.01,
        },
    )


def consume(folder: Path, want: int, received: list, errors: list, stop: threading.Event) -> None:
    """A consumer thread with its own connection, polling as fast as it can until `want` are received."""
    with connect(folder) as conn:
        queue = conn.SimpleQueue("soak")
        try:
            while len(received) < want and not stop.is_set():
                try:
                    message = queue.get(block=False)
                except Empty:
                    continue
                except Exception as exc:  # what killed the worker's consumer
                    errors.append(repr(exc))
                    continue
                received.append(message.payload["n"])
                message.ack()
        finally:
            queue.close()


def run_consumers(folder: Path, n_consumers: int, publish, want: int) -> tuple[list, list]:
    received, errors, stop = [], [], threading.Event()
    with connect(folder) as conn, conn.SimpleQueue("soak"):
        pass  # bound before the threads start (the race of concurrent binding has its own test)
    threads = [
        threading.Thread(target=consume, args=(folder, want, received, errors, stop))
        for _ in range(n_consumers)
    ]
    for t in threads:
        t.start()
    try:
        publish()
    finally:
        deadline = time.monotonic() + 60
        while len(received) < want and time.monotonic() < deadline and not errors[100:]:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    return received, errors


def test_a_consumer_never_reads_a_message_while_it_is_being_written(tmp_path):
    n, blob = 20, "x" * (2 * 1024 * 1024)  # 2 MB bodies: writing each one takes a while

    def publish():
        with connect(tmp_path) as conn, conn.SimpleQueue("soak") as queue:
            for i in range(n):
                queue.put({"n": i, "blob": blob})

    received, errors = run_consumers(tmp_path, 1, publish, n)
    assert errors == []
    assert sorted(received) == list(range(n))


def test_two_consumers_never_take_one_message_and_lose_none(tmp_path):
    n = 150

    def publish():
        with connect(tmp_path) as conn, conn.SimpleQueue("soak") as queue:
            for i in range(n):
                queue.put({"n": i})

    received, errors = run_consumers(tmp_path, 4, publish, n)
    assert errors == []
    assert sorted(received) == list(range(n))  # every message once: none lost, none run twice


def test_messages_published_by_threads_binding_at_once_are_never_dropped(tmp_path):
    """kombu binds in process-wide memory first and writes the exchange table after, so a second thread saw
    "bound", published, and the router (reading the file) dropped its message: a web process's first tasks."""
    for round_ in range(5):
        name, n = f"fresh{round_}", 8
        barrier = threading.Barrier(n)

        def publish_one(i, name=name, barrier=barrier):
            with connect(tmp_path) as conn:
                barrier.wait()
                with conn.SimpleQueue(name) as queue:
                    queue.put({"n": i})

        threads = [threading.Thread(target=publish_one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        got = []
        with connect(tmp_path) as conn, conn.SimpleQueue(name) as queue:
            while True:
                try:
                    message = queue.get(block=False)
                except Empty:
                    break
                got.append(message.payload["n"])
                message.ack()
        assert sorted(got) == list(range(n)), f"round {round_}: {sorted(got)}"


def test_an_undecodable_message_file_is_set_aside_and_the_consumer_goes_on(tmp_path):
    with connect(tmp_path) as conn, conn.SimpleQueue("soak") as queue:
        # what an interrupted writer of an older version leaves behind, sorted before the good message
        (tmp_path / "in" / "00000000000000000001_half.soak.msg").write_text('{"body": "eyJuIjog')
        queue.put({"n": 1})
        message = queue.get(block=True, timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        with pytest.raises(Empty):
            queue.get(block=False)
    assert [p.name for p in (tmp_path / "in" / ".failed").iterdir()] == ["00000000000000000001_half.soak.msg"]


def test_published_messages_are_consumed_in_publishing_order(tmp_path):
    with connect(tmp_path) as conn, conn.SimpleQueue("soak") as queue:
        for i in range(20):
            queue.put({"n": i})
        got = []
        for _ in range(20):
            message = queue.get(block=True, timeout=5)
            got.append(message.payload["n"])
            message.ack()
    assert got == list(range(20))


def test_the_embedded_default_broker_is_the_atomic_filesystem_transport(tmp_path):
    code = (
        "import json, django; django.setup(); from annotator.celery import app; "
        "c = app.connection_for_write(); "
        "print(json.dumps([app.conf.broker_url, type(c.transport).__module__, c.transport.polling_interval]))"
    )
    env_keys = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CACHE_URL", "REQUIRE_POSTGRES")
    env = {k: v for k, v in os.environ.items() if k not in env_keys and not k.startswith("DJANGO_")}
    env.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="annotator.settings")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == ["filesystem://", "annotator.broker", 0.1]


KILLED_CONSUMER = """
import os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.annotator.test_broker import connect
with connect(Path({folder!r})) as conn:
    queue = conn.SimpleQueue("soak")
    message = queue.get(timeout=10)  # delivered, never acknowledged
    print(message.payload["n"], flush=True)
    os._exit(9)  # as `kill -9` would: no shutdown, no restore
"""


def test_a_message_held_by_a_killed_worker_is_delivered_again(tmp_path):
    """kombu's filesystem channel deleted a message file as it read it, so a worker killed between taking a
    task and finishing it (acks_late) lost the task. Now the claimed file stays until the message is
    acknowledged, and the next reader of the queue puts back what a dead process held."""
    with connect(tmp_path) as conn:
        queue = conn.SimpleQueue("soak")
        queue.put({"n": 1})
        queue.put({"n": 2})
        queue.close()
    script = KILLED_CONSUMER.format(root=str(ROOT), folder=str(tmp_path))
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert killed.returncode == 9 and killed.stdout.strip() == "1", killed.stderr
    with connect(tmp_path) as conn:
        queue = conn.SimpleQueue("soak")
        got = []
        for _ in range(2):
            message = queue.get(timeout=10)
            got.append(message.payload["n"])
            message.ack()
        with pytest.raises(Empty):
            queue.get(timeout=0.5)
        queue.close()
    assert sorted(got) == [1, 2]  # message 1 came back, and nothing twice
    claimed = tmp_path / "in" / ".claimed"
    assert [p.name for p in claimed.iterdir() if not p.name.endswith(".owner")] == []  # acked: gone


def test_a_live_consumers_unacknowledged_message_is_not_taken_from_it(tmp_path):
    with connect(tmp_path) as holder, connect(tmp_path) as other:
        held = holder.SimpleQueue("soak")
        held.put({"n": 1})
        message = held.get(timeout=10)
        with pytest.raises(Empty):
            other.SimpleQueue("soak").get(timeout=0.5)  # its sweep leaves a live process's claims alone
        message.ack()
        held.close()
