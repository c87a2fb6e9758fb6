"""What travels over the broker: each frame decodes to what was encoded."""

import json
import uuid

import pytest

from app.realtime import wire


def test_an_event_decodes_to_what_was_encoded_and_keeps_its_text() -> None:
    payload = wire.encode_event("g1", 7, "message.created", {"id": "m1", "text": "héllo"})
    event = wire.decode_event(payload)
    assert (event.group_id, event.seq, event.type, event.data) == (
        "g1",
        7,
        "message.created",
        {"id": "m1", "text": "héllo"},
    )
    assert event.text == payload.decode() and "héllo" in event.text  # sent on unchanged


@pytest.mark.parametrize(
    "notice",
    [
        wire.TokensRevoked("u1", ["h1", "h2"]),
        wire.RecordingNotice(wire.ControlType.RECORDING_STARTED, "g1", "u1"),
        wire.ReportNotice(wire.ControlType.REPORT_CREATED, "g1", ["u1", "u2"], {"id": "r"}, 3),
    ],
)
def test_each_control_notice_decodes_to_what_was_encoded(notice: wire.Control) -> None:
    assert wire.decode_control(wire.encode_control(notice)) == notice


def test_a_control_notice_of_an_unknown_type_is_ignored() -> None:
    assert wire.decode_control(b'{"type": "from.a.newer.server"}') is None


def test_a_report_notice_reaches_moderators_without_the_list_of_who_receives_it() -> None:
    notice = wire.ReportNotice(wire.ControlType.REPORT_RESOLVED, "g1", ["u1"], {"id": "r"}, 0)
    assert json.loads(notice.text()) == {
        "type": "report.resolved",
        "group_id": "g1",
        "report": {"id": "r"},
        "open_reports": 0,
    }


def test_a_chunk_is_routed_by_group_and_sender_and_carries_the_listener_frame() -> None:
    group_id, sender_id, message_id = (str(uuid.uuid4()) for _ in range(3))
    chunk = wire.chunk_frame(group_id, sender_id, message_id, 4096, b"audio bytes")
    decoded = wire.decode_chunk(wire.encode_chunk(chunk))
    assert decoded == chunk
    assert wire.parse_listener_frame(decoded.frame) == (message_id, 4096, b"audio bytes")


def test_a_chunk_whose_ids_are_not_uuids_is_refused() -> None:
    chunk = wire.chunk_frame("short", str(uuid.uuid4()), str(uuid.uuid4()), 0, b"x")
    with pytest.raises(ValueError):
        wire.encode_chunk(chunk)
