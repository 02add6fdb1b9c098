"""Unknown fields: what a message keeps of the ids it has no field for.

A reader built from an older schema keeps each entry keyed by an id it does not
know, exactly as msgpack decoded it, and the wire form of the message has it again
(same key, same value; a binary value leaves as the same attachment). People's
views of the message (``model_dump()``, JSON, iteration) leave it out, ``repr``
shows it by id, ``==`` ignores it. Any other unknown name is refused.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import ValidationError

import uvrpc
from uvrpc import types as t
from uvrpc.wire.buffers import ATTACHMENT_MIN, BodyEncoder, BufferPool
from uvrpc.wire.codec import DecodeError, new_packer, unpack
from uvrpc.wire.unknown import KEPT
from uvrpc.wire.validation import invalid_argument


class Label(uvrpc.Message):
    model_config = uvrpc.field_ids(text=1)

    text: t.String


class Parcel(uvrpc.Message):
    model_config = uvrpc.field_ids(id=1, labels=2, tags=3, label=4)

    id: t.String
    labels: list[Label] = []
    tags: dict[t.String, Label] = {}
    label: Label | None = None


class _ParcelParams(uvrpc.Message):
    model_config = uvrpc.field_ids(parcel=1)

    parcel: Parcel


ECHO: uvrpc.Unary[_ParcelParams, Parcel] = uvrpc.Unary(
    route="relay.Relay.echo", handler="echo", params=_ParcelParams, reply=Parcel
)

# What a newer writer sends: its own fields 7 to 9, and one inside each label.
WIRE: dict[str, Any] = {
    "1": "p-1",
    "2": [{"1": "a", "5": [1, {"1": "deep"}]}],
    "3": {"to": {"1": "b", "5": None}},
    "4": {"1": "c", "6": 2.5},
    "7": {"1": "a message", "2": [{"3": True}]},
    "8": b"\x00\x01",
    "9": -1,
}


def kept_views() -> bool:
    """Whether this process has kept a binary value in an unknown field."""
    return KEPT.views


def parcel() -> Parcel:
    return Parcel.model_validate(WIRE)


def test_a_reader_keeps_ids_it_does_not_know_by_number() -> None:
    message = parcel()
    unknown = uvrpc.unknown_fields(message)
    assert unknown == {7: {"1": "a message", "2": [{"3": True}]}, 8: b"\x00\x01", 9: -1}
    assert list(unknown) == [7, 8, 9]  # as they arrived
    with pytest.raises(TypeError):
        unknown[10] = 1  # type: ignore[index]
    assert uvrpc.unknown_fields(message.labels[0]) == {5: [1, {"1": "deep"}]}
    assert uvrpc.unknown_fields(message.tags["to"]) == {5: None}
    assert message.label is not None
    assert uvrpc.unknown_fields(message.label) == {6: 2.5}
    assert uvrpc.unknown_fields(Parcel(id="x")) == {}


def test_the_wire_form_has_every_unknown_field_back_unchanged() -> None:
    message = parcel()
    assert message.model_dump(by_alias=True) == {**WIRE, "4": {"1": "c", "6": 2.5}}
    packer = new_packer()
    assert unpack(packer.pack(message)) == WIRE
    # Sent on inside a message of the reader's own making, and as a list element.
    outer = Parcel(id="outer", labels=message.labels, label=message.label)
    assert unpack(packer.pack(outer)) == {
        "1": "outer",
        "2": WIRE["2"],
        "3": {},
        "4": WIRE["4"],
    }


def test_the_bytes_of_the_frame_are_sent_on_as_the_same_attachment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(KEPT, "views", False)
    frame = bytearray(b"x" * ATTACHMENT_MIN)
    encoder = BodyEncoder(BufferPool())
    body, attachments = encoder.encode({"1": "p", "8": frame}, True)
    views: list[memoryview] = []
    decoded = unpack(bytes(body), attachments, views)
    encoder.settle(body, False)
    assert not kept_views()  # nothing kept yet
    message = Parcel.model_validate(decoded)
    kept = uvrpc.unknown_fields(message)[8]
    assert kept is views[-1]  # the view of the attachment frame, not a copy
    assert isinstance(kept, memoryview) and kept.obj is frame
    assert kept_views()
    # A Parcel result declares no binary field, yet the kept view is found and
    # leaves as an attachment frame of its own, a view of the same frame.
    assert not ECHO.reply_carries_bytes
    body, attachments = encoder.encode(message, ECHO.reply_carries_bytes)
    [sent] = attachments
    assert sent.obj is frame and sent.nbytes == len(frame)
    assert unpack(bytes(body), attachments) == {
        "1": "p",
        "2": [],
        "3": {},
        "4": None,
        "8": kept,
    }
    encoder.settle(body, False)


def test_only_a_kept_binary_value_makes_the_encoder_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(KEPT, "views", False)
    parcel()  # unknown fields, bytes among them, but no view
    assert not kept_views()
    Label.model_validate({"1": "a", "7": [{"1": memoryview(b"v")}]})
    assert kept_views()


def test_a_message_without_unknown_fields_is_not_taken_apart() -> None:
    encoder = BodyEncoder(BufferPool())
    message = Parcel(id="p", labels=[Label(text="a")])
    body, attachments = encoder.encode(message, ECHO.reply_carries_bytes)
    assert list(attachments) == []
    assert unpack(bytes(body)) == {"1": "p", "2": [{"1": "a"}], "3": {}, "4": None}
    encoder.settle(body, False)


def test_people_do_not_see_unknown_fields() -> None:
    message = parcel()
    mine = {
        "id": "p-1",
        "labels": [{"text": "a"}],
        "tags": {"to": {"text": "b"}},
        "label": {"text": "c"},
    }
    assert message.model_dump() == mine
    assert message.model_dump(by_alias=False, exclude={"tags"}) == {
        k: v for k, v in mine.items() if k != "tags"
    }
    assert message.model_dump(exclude={"labels": {0: {"text"}}})["labels"] == [{}]
    assert message.model_dump(mode="json")["label"] == {"text": "c"}
    assert message.model_dump_json() == (
        '{"id":"p-1","labels":[{"text":"a"}],"tags":{"to":{"text":"b"}},'
        '"label":{"text":"c"}}'
    )
    assert [name for name, _ in message] == ["id", "labels", "tags", "label"]
    assert dict(message.labels[0]) == {"text": "a"}


class ChoiceLabel(uvrpc.UnionMember):
    uvrpc_id = 1
    uvrpc_name = "label"

    value: Label


class ChoiceLabels(uvrpc.UnionMember):
    uvrpc_id = 2
    uvrpc_name = "labels"

    value: list[Label]


Choice = Annotated[
    ChoiceLabel | ChoiceLabels | uvrpc.UnknownMember, uvrpc.WireUnion("Choice")
]


class Tray(uvrpc.Message):
    model_config = uvrpc.field_ids(choice=1, choices=2)

    choice: Choice
    choices: list[Choice] = []


def test_people_do_not_see_unknown_fields_of_messages_in_a_union() -> None:
    # A union's serializer used to drop the exclusions a dump hands down, and a
    # member's own dump made none: the raw values showed, and a binary one made
    # model_dump_json() raise.
    tray = Tray.model_validate(
        {
            "1": {"1": {"1": "a", "5": b"\x00"}},
            "2": [{"2": [{"1": "b", "6": 2}]}, {"1": {"1": "c", "7": None}}],
        }
    )
    mine = {
        "choice": {"label": {"text": "a"}},
        "choices": [{"labels": [{"text": "b"}]}, {"label": {"text": "c"}}],
    }
    assert tray.model_dump() == mine
    assert tray.model_dump_json() == (
        '{"choice":{"label":{"text":"a"}},'
        '"choices":[{"labels":[{"text":"b"}]},{"label":{"text":"c"}}]}'
    )
    assert tray.model_dump_json(by_alias=True) == (
        '{"1":{"1":{"1":"a"}},"2":[{"2":[{"1":"b"}]},{"1":{"1":"c"}}]}'
    )
    assert tray.choice.model_dump() == {"label": {"text": "a"}}
    assert tray.choices[0].model_dump_json() == '{"labels":[{"text":"b"}]}'
    # The wire form still has them.
    assert unpack(new_packer().pack(tray)) == {
        "1": {"1": {"1": "a", "5": b"\x00"}},
        "2": [{"2": [{"1": "b", "6": 2}]}, {"1": {"1": "c", "7": None}}],
    }


def test_repr_shows_unknown_fields_by_id_and_equality_ignores_them() -> None:
    message = parcel()
    assert repr(message.label) == "Label(text='c', unknown_fields={6: 2.5})"
    assert repr(message).endswith(
        "unknown_fields={7: {'1': 'a message', '2': [{'3': True}]}, "
        "8: b'\\x00\\x01', 9: -1})"
    )
    assert message == Parcel(
        id="p-1",
        labels=[Label(text="a")],
        tags={"to": Label(text="b")},
        label=Label(text="c"),
    )
    assert message != Parcel(id="p-2")
    assert Label(text="a") != "a"


def test_discarding_drops_them_from_every_message_inside() -> None:
    message = parcel()
    uvrpc.discard_unknown_fields(message)
    assert uvrpc.unknown_fields(message) == {}
    assert uvrpc.unknown_fields(message.labels[0]) == {}
    assert uvrpc.unknown_fields(message.tags["to"]) == {}
    assert unpack(new_packer().pack(message)) == {
        "1": "p-1",
        "2": [{"1": "a"}],
        "3": {"to": {"1": "b"}},
        "4": {"1": "c"},
    }


def test_an_id_given_to_a_constructor_is_kept() -> None:
    message = Label(text="a", **{"12": [1]})
    assert uvrpc.unknown_fields(message) == {12: [1]}
    largest = Label(text="a", **{"536870911": 1})
    assert uvrpc.unknown_fields(largest) == {2**29 - 1: 1}


# Beyond the largest field id (2**29 - 1) a key is no id either: one of 5,000 digits
# was kept, and then unknown_fields() and repr() failed to make it an int.
@pytest.mark.parametrize(
    "name",
    ["nmae", "Text", "04", "0", "-1", "1.5", "\u0663", "", "536870912", "9" * 5000],
)
def test_a_name_that_is_not_an_id_is_refused(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        Label(text="a", **{name: 1})
    [problem] = error.value.errors()
    assert (problem["type"], problem["loc"]) == ("unknown_field", (name,))
    assert problem["msg"] == "not a field of this message"


def test_a_peer_s_unknown_name_is_refused_with_its_path() -> None:
    with pytest.raises(ValidationError) as error:
        _ParcelParams.model_validate({"1": {"1": "p", "2": [{"1": "a", "nmae": 1}]}})
    refused = invalid_argument(ECHO.route, error.value)
    assert refused.field_path == "parcel.labels.0.nmae"
    assert refused.message == (
        "invalid argument 'parcel.labels.0.nmae' of relay.Relay.echo: "
        "not a field of this message"
    )


def test_setting_a_name_that_is_not_a_field_is_refused() -> None:
    message = Label(text="a")
    with pytest.raises(ValueError, match='"Label" object has no field "nmae"'):
        message.nmae = "b"  # type: ignore[attr-defined]
    message.text = "b"
    assert message.text == "b"


def test_unknown_fields_count_against_the_depth_limit() -> None:
    # {"1": "a", "9": [[[...]]]}, 2,000 arrays deep, written byte by byte.
    body = b"\x82\xa11\xa1a\xa19" + b"\x91" * 2000 + b"\x90"
    assert unpack(body[:7] + b"\x90") == {"1": "a", "9": []}
    with pytest.raises(DecodeError, match="nested deeper"):
        unpack(body)


def test_a_parameter_a_server_does_not_know_is_dropped_but_not_inside_it() -> None:
    params = ECHO.check_params({"1": {"1": "p", "7": "kept"}, "2": "a new parameter"})
    assert type(params) is _ParcelParams
    assert uvrpc.unknown_fields(params) == {}
    assert uvrpc.unknown_fields(params.parcel) == {7: "kept"}
    with pytest.raises(ValidationError) as error:
        ECHO.check_params({"1": {"1": "p", "nmae": 1}})
    assert error.value.errors()[0]["loc"] == ("parcel", "nmae")
