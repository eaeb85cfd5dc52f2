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
an error in the log, never crashing the worker. The exchange tables (fanout bindings, used by the worker's
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
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

TMP_DIR = ".tmp"  # inside the out folder: same filesystem as the queue, so os.replace is atomic
CLAIMED_DIR = ".claimed"  # inside the in folder, for the same reason
FAILED_DIR = ".failed"


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


class Channel(filesystem.Channel):
    """kombu's filesystem channel with atomic publishing and atomic claiming."""

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

    def _get(self, queue):
        """Take the oldest message of `queue`: claim it by an atomic rename, read it, delete it.

        The folder is listed once per batch, not once per message (kombu lists and sorts it on every get, so
        a backlog of n files cost O(n log n) per message and the worker fell further behind the longer it was);
        files published meanwhile are picked up by the next listing."""
        folder = Path(self.data_folder_in)
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
        mine = claimed / f"{os.getpid()}-{uuid.uuid4().hex}-{name}"
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
        else:
            mine.unlink(missing_ok=True)
        return payload

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
