"""The embedded broker (a folder of files) hands a worker every message whole, however closely
the worker polls while messages are published: kombu's own filesystem transport creates a
message's file before writing it, and a worker polling in between lost the message."""

from __future__ import annotations

import builtins
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from kombu import Connection
from kombu.simple import SimpleQueue

from config import broker
from config.celery import app

TRANSPORT = "config.broker:Transport"


def _connection(folder: Path) -> Connection:
    # kombu's control folder defaults to "control" in the working directory: kept in `folder`.
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
    }
    return Connection("filesystem://", transport=TRANSPORT, transport_options=options)


def _queue_name() -> str:
    """A queue of its own: kombu remembers bindings across connections, whatever their folder."""
    return f"work{uuid.uuid4().hex}"


def _poll(inbox: SimpleQueue) -> Any:
    """What a worker polling now takes: a message's payload, "empty", or the error it meets."""
    try:
        message = inbox.get(block=False)
    except inbox.Empty:
        return "empty"
    except ValueError as exc:  # an empty or half-written file
        return exc
    message.ack()
    return message.payload


def test_a_worker_polling_while_a_message_is_written_never_takes_it_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = builtins.open
    polls: list[Any] = []
    with _connection(tmp_path) as reader, _connection(tmp_path) as writer:
        name = _queue_name()
        inbox, outbox = reader.SimpleQueue(name), writer.SimpleQueue(name)

        def open_then_poll(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            handle = real_open(file, mode, *args, **kwargs)
            if "w" in mode and Path(file).parent == tmp_path:
                polls.append(_poll(inbox))  # a worker polling between creation and writing
            return handle

        monkeypatch.setattr(builtins, "open", open_then_poll)
        for number in range(5):
            outbox.put({"number": number})
        monkeypatch.undo()
        rest = [_poll(inbox) for _ in range(6)]

    assert polls  # the publishing did open files in the queue's folder
    taken = [poll for poll in polls + rest if isinstance(poll, dict)]
    assert [poll for poll in polls + rest if isinstance(poll, Exception)] == []
    assert sorted(payload["number"] for payload in taken) == [0, 1, 2, 3, 4]
    assert rest[-1] == "empty"
    assert not list(tmp_path.glob("*" + broker.PARTIAL_SUFFIX))


def test_a_worker_polling_while_another_thread_publishes_reads_every_message(
    tmp_path: Path,
) -> None:
    count = 1000
    received: list[int] = []
    errors: list[Exception] = []
    name = _queue_name()
    with _connection(tmp_path) as reader:
        inbox = reader.SimpleQueue(name)

        def publish() -> None:
            with _connection(tmp_path) as writer:
                outbox = writer.SimpleQueue(name)
                for number in range(count):
                    outbox.put({"number": number})

        thread = threading.Thread(target=publish)
        thread.start()
        deadline = time.monotonic() + 120
        while len(received) < count and time.monotonic() < deadline:
            taken = _poll(inbox)
            if isinstance(taken, Exception):
                errors.append(taken)
            elif isinstance(taken, dict):
                received.append(taken["number"])
            elif not thread.is_alive() and not any(tmp_path.glob("*.msg")):
                break  # everything published has been read or lost
        thread.join()

    assert errors == []
    # Each one once (within a millisecond, kombu's names order messages at random).
    assert sorted(received) == list(range(count))


def test_the_embedded_broker_uses_that_transport() -> None:
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("this run's broker is not the embedded one")
    with app.connection_for_write() as connection:
        assert connection.transport_cls == TRANSPORT
        assert isinstance(connection.transport, broker.Transport)
