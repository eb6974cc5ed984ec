"""`hub.worker.state`: a person's state survives its serialisation, and reading a state
back never runs code (the table's changelog is a topic anyone with write access to the
broker could feed)."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from hub.worker.state import Emitted, PersonState, safe_loads, stored_event


def a_state() -> PersonState:
    return PersonState(
        events={"e-1": {"event_date": date(2026, 3, 1), "ingested_at": datetime(2026, 3, 2, 8, tzinfo=UTC),
                        "payload": {"ine": "123456789AB", "nested": [1, 2.5, None, True, b"\x00"]}}},
        nameless={"e-2": {"event_date": date(2026, 4, 1)}},
        ines=["123456789AB"],
        registered={"n-abc"},
        emitted={"c-1": Emitted(b"d" * 16, "OBS-86", {"OBS-86": b"h" * 16}, {"nom": "CTI"},
                                ({"date": date(2026, 2, 1), "from_observatoire": "OBS-79"},))},
        history={"c-1": (date(2026, 3, 1), [{"date": date(2026, 2, 1), "from_observatoire": "OBS-79"}], "OBS-86")},
        ghosts={"c-0": ("OBS-17",)},
        pinned={"c-9": ("OBS-79", {"nom": "X"})},
        links={"e-3": "n-abc", "e-4": {"n-abc": {"event_id": "e-4"}, "n-def": {"event_id": "e-4", "x": 1}}},
        dir_version="sha256:ab",
        deadline=date(2026, 9, 1),
    )


def test_a_state_round_trips_with_its_dates_and_timestamps():
    st = a_state()
    assert PersonState.from_bytes(st.to_bytes()) == st
    assert PersonState.from_bytes(None) == PersonState()


def test_a_state_written_before_links_reads_with_none():
    st = a_state()
    old = pickle.loads(st.to_bytes())[:12]  # the tuple as written before `links`
    assert PersonState.from_bytes(pickle.dumps(old, protocol=5)).links == {}


def test_the_datetime_types_a_decoded_event_holds_are_allowed():
    value = [date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))), timedelta(days=3)]
    assert safe_loads(pickle.dumps(value, protocol=5)) == value


class _RunsCode:
    def __reduce__(self):
        return (exec, ("import sys; sys.modules['hub'].PWNED = True",))


@pytest.mark.parametrize("payload", [_RunsCode(), {"events": _RunsCode()}, pickle.loads])
def test_a_state_that_would_run_code_or_load_a_global_is_refused(payload):
    import hub

    data = pickle.dumps(payload, protocol=5)
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        safe_loads(data)
    with pytest.raises(pickle.UnpicklingError):
        PersonState.from_bytes(pickle.dumps((1, payload), protocol=5))
    assert not hasattr(hub, "PWNED")


def test_an_event_is_stored_with_its_reception_time_in_epoch_milliseconds():
    at = datetime(2026, 3, 2, 8, 0, 0, 123000, tzinfo=UTC)
    event = {"event_id": "e-1", "received_at": at, "event_date": date(2026, 3, 1)}
    stored = stored_event(event)
    assert stored == {**event, "received_at": 1772438400123}
    assert event["received_at"] is at  # the caller's dict is left alone
    assert stored_event(stored) is stored
    # Avro's timestamp-millis: the codec writes the integer as it is, and reads back the instant.
    assert datetime.fromtimestamp(stored["received_at"] / 1000, UTC) == at


def test_a_state_written_before_reception_times_were_stored_as_integers_is_read_in_the_new_form():
    at = datetime(2026, 3, 2, 8, tzinfo=UTC)
    old = PersonState(events={"e-1": {"event_id": "e-1", "received_at": at}},
                      nameless={"e-2": {"event_id": "e-2", "received_at": at}})
    data = old.to_bytes()
    fields = list(safe_loads(data))
    fields[0] = 1  # the former format, its events as decoded
    read = PersonState.from_bytes(pickle.dumps(tuple(fields), protocol=5))
    ms = stored_event({"received_at": at})["received_at"]
    assert read.events == {"e-1": {"event_id": "e-1", "received_at": ms}}
    assert read.nameless == {"e-2": {"event_id": "e-2", "received_at": ms}}
