"""The schema versions of `hub.schemas.v1`, learned while the worker runs.

Connectors and the worker are upgraded one at a time: a connector with a new version of
an event's schema (FULL_TRANSITIVE: readable by every earlier one) publishes it on
`hub.schemas.v1`, then events written with it. A worker started before knows only its
own `schemas/`: without this, such an event was an unknown fingerprint, skipped with a
warning, and its offset committed — the event was lost for the cases (found by a
black-box audit). This reader (a `follow.TopicFollower`) hands every record to
`Codec.learn`, which reads the new version into the worker's latest version of the
same schema; the person agent, meeting an unknown fingerprint all the same (the record
came before the reader saw its schema), waits for the reader to catch up with the
topic and decodes again (`app.py`).
"""

from __future__ import annotations

from hub.avro.codec import Codec
from hub.kafka.topics import SCHEMAS, learn_from
from hub.logging import get_logger
from hub.settings import Settings
from hub.worker.follow import TopicFollower

log = get_logger("hub.worker.schemas")


class SchemaFollower(TopicFollower):
    """Background reader of hub.schemas.v1 feeding `codec.learn`."""

    topic = SCHEMAS
    late = "schema reader late; the record stays unreadable"

    def __init__(self, settings: Settings, codec: Codec, **kwargs) -> None:
        super().__init__(settings, **kwargs)
        self.codec = codec

    def apply(self, records) -> None:
        for learned in learn_from(self.codec, (record.value for record in records)):
            log.info("schema version learned from hub.schemas.v1", schema=learned.fullname,
                     fingerprint=learned.fingerprint_hex)
