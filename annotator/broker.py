"""The embedded broker: kombu's filesystem transport, made safe for concurrent producers and consumers.

Used when no broker is configured (settings: CELERY_BROKER_URL "filesystem://" with CELERY_BROKER_TRANSPORT
pointing here). kombu's own filesystem channel (5.x) has two races that killed the embedded worker under load:

- a producer creates the message file under its final name and only then writes it, so a consumer listing
  the folder can take a file that is still empty or half written: `json.loads` fails and the worker's
  consumer dies;
- consumers claim a file by `shutil.move` into one shared temporary folder under its own name; across
  filesystems that is copy-then-delete, so two consumers can both read (and run) one message.

Here a message is written to a temporary name outside the queue's view, flushed, and `os.replace`d into the
queue folder, so a file a consumer can see is complete. A consumer claims a file by `os.rename` to a unique
name in a claim folder on the same filesystem: atomic, so exactly one consumer wins and the others move on.
A file that still cannot be decoded (e.g. left by an older version) is set aside in a `.failed` folder with
an error in the log, never crashing the worker. kombu also deleted a message as it read it, so a worker killed
between taking a task and acknowledging it (acks_late) lost the task; here the claimed file stays until the
message is acknowledged, each consumer process holds an flock on an owner file while it lives, and the next
process to read the queue puts back every claim whose owner has died. The exchange tables (fanout bindings, used by the worker's
remote control) are rewritten the same way, under a separate lock file, so a reader never sees a truncated one.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from collections import deque
from functools import cached_property
from pathlib import Path
from queue import Empty

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

TMP_DIR = ".tmp"  # inside the out folder: same filesystem as the queue, so os.replace is atomic
CLAIMED_DIR = ".claimed"  # inside the in folder, for the same reason
FAILED_DIR = ".failed"


# Who holds claims in this process: a token, and an open lock file that proves the process is alive (the kernel
# drops an flock when its process dies, however it dies). Re-made after a fork (prefork children).
_OWNER: dict[int, tuple[str, object]] = {}


def _owner(claimed: Path) -> str:
    pid = os.getpid()
    if pid not in _OWNER:
        claimed.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        lock = open(claimed / f"{token}.owner", "ab")  # noqa: SIM115 - held open for the process's life
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        _OWNER[pid] = (token, lock)
    return _OWNER[pid][0]


def restore_orphaned_claims(folder: Path) -> int:
    """Put back in `folder` every message claimed by a process that has died before acknowledging it (killed
    worker: `kill -9`, out of memory, power cut). Returns how many were restored."""
    claimed = folder / CLAIMED_DIR
    restored = 0
    try:
        owners = [p for p in claimed.iterdir() if p.suffix == ".owner"]
    except FileNotFoundError:
        return 0
    for owner in owners:
        try:
            lock = open(owner, "ab")  # noqa: SIM115
        except OSError:
            continue
        with lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive
            token = owner.stem
            for held in claimed.glob(f"{token}-*"):
                original = held.name.split("-", 2)[2]  # "<token>-<uuid>-<original name>"
                try:
                    os.rename(held, folder / original)
                    restored += 1
                except FileNotFoundError:
                    pass  # restored by another process meanwhile
            owner.unlink(missing_ok=True)
    if restored:
        logger.warning(
            "Broker: %d message(s) claimed by a process that died were put back in %s", restored, folder
        )
    return restored


def _write_atomically(path: Path, data: bytes, tmp_dir: Path) -> None:
    """Write `data` to `path` so that a reader sees either no file or the whole of it."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class QoS(virtual.QoS):
    """Acknowledging (or rejecting) a message is when its claimed file goes."""

    def ack(self, delivery_tag):
        super().ack(delivery_tag)
        self.channel._release(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        super().reject(delivery_tag, requeue=requeue)  # requeue: published again first
        self.channel._release(delivery_tag)


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic publishing, atomic claiming, and claims kept until the message
    is acknowledged: a worker killed while it holds messages loses none, the next process to read the queue
    folder puts them back (restore_orphaned_claims)."""

    QoS = QoS

    # -- messages

    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written under a temporary name, then renamed into the queue folder."""
        # Names sort in publishing order (zero-padded wall-clock ns; kombu's is an unpadded monotonic ms).
        name = f"{time.time_ns():020d}_{uuid.uuid4().hex}.{queue}.msg"
        folder = Path(self.data_folder_out)
        try:
            _write_atomically(folder / name, dumps(payload).encode(), folder / TMP_DIR)
        except OSError as exc:
            raise ChannelError(f"Cannot add message {name!r} to {folder}") from exc

    @cached_property
    def _held(self) -> dict:
        """delivery tag -> claimed file, for messages delivered to an acknowledging consumer."""
        return {}

    @cached_property
    def _no_ack_queues(self) -> set:
        return set()

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        if no_ack:  # remote-control broadcasts: nobody will acknowledge them
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_get(self, queue, no_ack=False, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_get(queue, no_ack=no_ack, **kwargs)

    def _release(self, delivery_tag) -> None:
        path = self._held.pop(delivery_tag, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def _restore(self, message):
        """A message given back (shutdown with unacknowledged messages, a requeue): published again, and its
        claim released."""
        super()._restore(message)
        self._release(message.delivery_tag)

    def _get(self, queue):
        """Take the oldest message of `queue`: claim it by an atomic rename, read it, delete it.

        The folder is listed once per batch, not once per message (kombu lists and sorts it on every get, so
        a backlog of n files cost O(n log n) per message and the worker fell further behind the longer it was);
        files published meanwhile are picked up by the next listing."""
        folder = Path(self.data_folder_in)
        if not self._swept:
            self._swept = True
            restore_orphaned_claims(folder)
        pending = self._pending.setdefault(queue, deque())
        listed = False
        while True:
            if not pending:
                if listed:
                    raise Empty()
                suffix = f"{queue}.msg"
                pending.extend(sorted(n for n in os.listdir(folder) if n.partition(".")[2] == suffix))
                listed = True
                continue
            payload = self._claim(folder, pending.popleft())
            if payload is not None:
                return payload

    def _claim(self, folder: Path, name: str):
        """The message in file `name` if this consumer wins it, else None (taken by another, or undecodable)."""
        claimed = folder / CLAIMED_DIR
        mine = claimed / f"{_owner(claimed)}-{uuid.uuid4().hex}-{name}"
        try:
            os.rename(folder / name, mine)
        except FileNotFoundError:
            if not claimed.is_dir():
                claimed.mkdir(exist_ok=True)
                return self._claim(folder, name)
            return None  # another consumer took it first
        except OSError as exc:
            raise ChannelError(f"Cannot claim message {name!r} in {folder}") from exc
        try:
            payload = loads(mine.read_bytes())
        except (ValueError, UnicodeDecodeError):  # json.JSONDecodeError is a ValueError
            self._set_aside(mine, name)
            return None
        if self.store_processed:
            os.replace(mine, Path(self.processed_folder) / name)
        elif self._queue_of(name) in self._no_ack_queues:
            mine.unlink(missing_ok=True)
        else:
            self._held[payload["properties"]["delivery_tag"]] = mine  # until acknowledged
        return payload

    @staticmethod
    def _queue_of(name: str) -> str:
        return name.partition(".")[2].removesuffix(".msg")

    _swept = False

    @cached_property
    def _pending(self) -> dict:
        return {}

    def _set_aside(self, path: Path, name: str) -> None:
        failed = Path(self.data_folder_in) / FAILED_DIR
        failed.mkdir(exist_ok=True)
        os.replace(path, failed / name)
        logger.error("Broker message %s could not be decoded; moved to %s", name, failed)

    # -- exchange tables (fanout bindings)

    def get_table(self, exchange):
        file = self._exchange_file(exchange)
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        try:
            return [filesystem.exchange_queue_t(*q) for q in loads(data)]
        except ValueError as exc:  # only a file written by an older version can be partial
            raise ChannelError(f"Unreadable exchange table {file}") from exc

    def _update_table(self, exchange, change) -> None:
        """Read-modify-write an exchange table under an exclusive lock file; the table is replaced atomically."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with open(file.with_name(file.name + ".lock"), "ab") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                queues = self.get_table(exchange)
                changed = change(queues)
                if changed is not None:
                    _write_atomically(file, dumps(changed).encode(), self.control_folder / TMP_DIR)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def queue_bind(self, queue, exchange=None, routing_key="", arguments=None, **kwargs):
        """Bind, and make sure the binding is in the exchange's table before returning.

        kombu records a binding in process-wide memory first and writes the table file after; another thread of
        the same process (a web server's) that binds meanwhile sees "already bound", skips the file, publishes,
        and the router, which reads the file, drops the message. Writing (idempotently) closes that window."""
        exchange = exchange or "amq.direct"
        if self.state.has_binding(queue, exchange, routing_key):
            meta = self.typeof(exchange).prepare_bind(queue, exchange, routing_key, arguments)
            self._queue_bind(exchange, *meta)
            return
        super().queue_bind(queue, exchange, routing_key, arguments, **kwargs)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        value = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda queues: None if value in queues else [value, *queues])

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        # the virtual channel's own bookkeeping (skipping kombu's filesystem _delete, which rewrites in place)
        super(filesystem.Channel, self)._delete(queue, exchange, routing_key, pattern, *args, **kwargs)
        value = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(
            exchange, lambda queues: [q for q in queues if q != value] if value in queues else None
        )


class Transport(filesystem.Transport):
    """kombu's filesystem transport with the channel above."""

    Channel = Channel
