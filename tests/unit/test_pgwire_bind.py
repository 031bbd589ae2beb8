"""Bind messages as the front end parses them: every field, NULLs, and the errors of a
malformed message (the parser reads values and format codes in one pass)."""
import struct

import pytest

from dsql_ray.frontend.pgwire import ProtocolError, parse_bind


def bind(params: list[bytes | None], param_formats=(), result_formats=(),
         portal=b"", statement=b"S_1") -> bytes:
    out = portal + b"\0" + statement + b"\0"
    out += struct.pack(f"!h{len(param_formats)}h", len(param_formats), *param_formats)
    out += struct.pack("!h", len(params))
    for p in params:
        out += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    return out + struct.pack(f"!h{len(result_formats)}h", len(result_formats), *result_formats)


def test_every_field_of_a_bind():
    msg = parse_bind(bind([b"12", None, b""], (0, 1, 0), (1,), b"p", b"s"))
    assert (msg.portal, msg.statement) == ("p", "s")
    assert msg.param_formats == (0, 1, 0) and msg.result_formats == (1,)
    assert msg.params == [b"12", None, b""]
    empty = parse_bind(bind([]))
    assert empty.params == [] and empty.param_formats == () and empty.result_formats == ()


@pytest.mark.parametrize("body, message", [
    (bind([b"1234"])[:-4], "insufficient data left in message"),       # value cut short
    (bind([b"1"], (0, 0))[:10], "insufficient data left in message"),  # format codes cut
    (bind([b"1"])[:-2], "insufficient data left in message"),          # no result codes
    (bind([b"1"])[:-5], "insufficient data left in message"),          # length cut short
    (bind([b"1"]) + b"\0", "invalid message format"),                  # trailing bytes
    (b"portal-without-end", "invalid string in message"),
])
def test_a_malformed_bind_is_a_protocol_error(body, message):
    with pytest.raises(ProtocolError) as info:
        parse_bind(body)
    assert info.value.message == message


def test_a_negative_length_other_than_null_is_refused():
    body = bind([b"x"]).replace(struct.pack("!i", 1) + b"x", struct.pack("!i", -2))
    with pytest.raises(ProtocolError, match="insufficient data"):
        parse_bind(body)
