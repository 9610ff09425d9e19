"""kombu's filesystem transport, with every message published whole.

kombu creates a message's file in the queue folder and then writes it; a worker polling in
between takes the empty file, deletes it and fails to decode it, so the message is lost and the
worker stops. Here a message is written under a name no reader takes and renamed into the queue.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    # kombu's stubs call the message `payload` in this class and `message` in its base.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Put `payload` onto `queue`: visible to readers only once it is complete."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        partial = path + PARTIAL_SUFFIX  # "<...>.msg.partial" never matches a queue's ".msg"
        try:
            with open(partial, "wb") as file:
                file.write(dumps(payload).encode())
            os.replace(partial, path)
        except OSError as exc:
            if os.path.exists(partial):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
