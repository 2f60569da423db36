"""Events: one flat model per SPEC §3 type, parsed back from JSON in either shape."""

from __future__ import annotations

import json
import pickle

import pytest
from event_samples import TRICKY, sample_events
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from agio_core import Agio, ContentDelta, Run, RunPaused, StepStarted, parse_event
from agio_core._eventlog import EventLog
from agio_core._time import utcnow
from agio_core.events import EVENT_CLASSES, EVENT_TYPES, Envelope, why_not_an_event
from agio_core.ids import new_run_id

SAMPLES = sample_events("run_0123456789abcdef")
ENVELOPE = ["seq", "type", "run_id", "ts"]


def test_every_type_has_one_model() -> None:
    types = [cls.model_fields["type"].default for cls in EVENT_CLASSES]
    assert sorted(types) == sorted(EVENT_TYPES) and len(set(types)) == len(types) == 16


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_each_event_round_trips_flat(event: object) -> None:
    assert isinstance(event, EVENT_CLASSES)
    text = event.to_json()
    document = json.loads(text)
    assert list(document)[:4] == ENVELOPE and "data" not in document
    assert set(document) == set(type(event).model_fields)
    assert parse_event(text) == event
    assert parse_event(text.encode()) == event
    assert parse_event(text).to_json() == text


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_each_event_reads_from_the_nested_shape_of_earlier_logs(event: object) -> None:
    assert isinstance(event, EVENT_CLASSES)
    flat = json.loads(event.to_json())
    old = {key: flat.pop(key) for key in ENVELOPE}
    old["data"] = flat if event.type != "run_started" else {"run_id": event.run_id, **flat}
    assert parse_event(json.dumps(old, separators=(",", ":"), ensure_ascii=False)) == event
    assert parse_event(json.dumps(old).encode()) == event  # with spaces, as PostgreSQL prints it


def test_a_verbatim_line_of_the_nested_shape() -> None:
    line = (
        '{"seq":61,"type":"run_paused","run_id":"run_a00136ef12be9956",'
        '"ts":"2026-12-01T21:31:06.193326Z","data":{"checkpoint_id":"ck_a00136ef12be9956_0001"}}'
    )
    event = parse_event(line)
    assert isinstance(event, RunPaused) and event.checkpoint_id == "ck_a00136ef12be9956_0001"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"seq":1,"type":"nope","run_id":"r","ts":"2026-01-01T00:00:00Z"}', "unknown type 'nope'"),
        ('{"seq":1,"type":"step_started","run_id":"r"}', "step_started.step: Field required"),
        ('{"seq":"x","type":"step_started","run_id":"r","step":1}', "step_started.seq"),
        ('{"seq":1,"type":"usage","run_id":"r","data":[1]}', "usage.prompt_tokens"),
        ("[]", "Input should be"),
        ('{"seq":1,"type":"step_started","data":{"step":1}', "Invalid JSON"),
        (b'{"seq":1,"type":"content_delta","run_id":"r","step":1,"content":"\xff"}', "JSON"),
        (b'\xff"data":', "Invalid JSON"),
    ],
)
def test_what_is_not_an_event_is_refused_with_a_reason(text: str | bytes, why: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_event(text)
    assert why in why_not_an_event(refused.value)


def test_null_usage_counts_stay_null() -> None:
    event = parse_event(
        '{"seq":1,"type":"usage","run_id":"r","ts":"2026-01-01T00:00:00Z",'
        '"prompt_tokens":null,"completion_tokens":null,"total_tokens":null,"step":1}'
    )
    assert json.loads(event.to_json())["total_tokens"] is None


def test_events_are_frozen_and_serialised_once() -> None:
    event = ContentDelta(seq=1, run_id="r", content="a", step=1)
    assert event.to_json() is event.to_json()
    with pytest.raises(ValidationError):
        event.content = "b"  # type: ignore[misc]


async def test_the_log_numbers_events_and_refuses_one_out_of_turn(agio: Agio) -> None:
    run = Run(id=new_run_id(), agent_id="assistant", session_id="s", input="hi")
    await agio.store.create_run(run)
    log = EventLog(run.id, agio.store, last_seq=4)
    await log.emit(StepStarted(**log.envelope(), step=1))
    assert [(e.seq, e.run_id) for e in log.events] == [(5, run.id)]
    with pytest.raises(ValueError, match="not the next"):
        await log.emit(StepStarted(seq=9, run_id=log.run_id, step=1))
    with pytest.raises(ValueError, match="not the next"):
        await log.emit(StepStarted(**{**log.envelope(), "run_id": "run_other"}, step=1))
    await log.flush()
    assert await agio.store.read_events(run.id) == list(log.events) and len(log.events) == 1


# Token text as models stream it, and as they should not: JSON-looking text, escapes, every
# control character, Unicode beyond the BMP, U+2028, a 5 MB token, every code point there is.
_EVERY_CODE_POINT = "".join(map(chr, [*range(0xD800), *range(0xE000, 0x110000)]))
NASTY_TOKENS = [
    "",
    " ",
    TRICKY,
    "".join(map(chr, range(0x20))) + "\x7f\x80\x9f",
    '{"seq":9,"type":"run_completed"}',
    "\\u0000 \\ud800",
    "🚀" * 1000,
    "x" * 5_000_000,
    _EVERY_CODE_POINT,
]


@pytest.mark.parametrize("content", NASTY_TOKENS, ids=lambda c: f"{len(c)}:{c[:8]!r}")
def test_a_trusted_token_is_the_validated_event_byte_for_byte(content: str) -> None:
    envelope: Envelope = {"seq": 7, "run_id": "run_0123456789abcdef", "ts": utcnow()}
    trusted = ContentDelta.trusted(envelope, content, 3)
    validated = ContentDelta(**envelope, content=content, step=3)
    assert type(trusted) is ContentDelta
    assert trusted == validated and hash(trusted) == hash(validated)
    assert trusted.model_fields_set == validated.model_fields_set
    assert list(trusted.__dict__) == list(validated.__dict__)
    assert trusted.json_bytes == validated.json_bytes
    assert trusted.to_json() == validated.to_json()
    assert trusted.model_dump() == validated.model_dump()
    assert parse_event(trusted.json_bytes) == trusted


@pytest.mark.parametrize("content", ["\ud800", "a\udfffb", "\udbff\udc00"[::-1]])
def test_a_trusted_lone_surrogate_fails_to_serialise_as_a_validated_one_does(
    content: str,
) -> None:
    envelope: Envelope = {"seq": 1, "run_id": "r", "ts": utcnow()}
    trusted = ContentDelta.trusted(envelope, content, 1)
    validated = ContentDelta(**envelope, content=content, step=1)
    assert trusted == validated
    with pytest.raises(PydanticSerializationError) as refused_trusted:
        trusted.json_bytes  # noqa: B018
    with pytest.raises(PydanticSerializationError) as refused_validated:
        validated.json_bytes  # noqa: B018
    assert str(refused_trusted.value) == str(refused_validated.value)


class _Text(str):
    pass


def test_what_is_not_a_plain_str_and_int_is_validated() -> None:
    envelope: Envelope = {"seq": 1, "run_id": "r", "ts": utcnow()}
    event = ContentDelta.trusted(envelope, _Text("hi"), 1)
    assert type(event.content) is str and event == ContentDelta(**envelope, content="hi", step=1)
    with pytest.raises(ValidationError):
        ContentDelta.trusted(envelope, None, 1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ContentDelta.trusted(envelope, "hi", "one")  # type: ignore[arg-type]


def test_trusted_tokens_share_their_fields_set_without_leaking_changes() -> None:
    envelope: Envelope = {"seq": 1, "run_id": "r", "ts": utcnow()}
    first = ContentDelta.trusted(envelope, "a", 1)
    second = ContentDelta.trusted({**envelope, "seq": 2}, "b", 1)
    with pytest.raises(ValidationError):
        first.content = "changed"
    copied = first.model_copy(update={"content": "c"})
    assert copied.content == "c" and first.content == "a"
    assert (
        first.model_fields_set
        == second.model_fields_set
        == {
            "seq",
            "run_id",
            "ts",
            "content",
            "step",
        }
    )
    assert copied.model_fields_set == first.model_fields_set
    assert pickle.loads(pickle.dumps(first)) == first
