"""The canonical type model: every spelling PostgreSQL accepts reads as format_type() prints it.

Whether a type change rewrites is checked against the server in tests/test_oracle.py."""

import pytest

from migrator.pgtypes import parse_type, type_change_rewrites


@pytest.mark.parametrize("spelling, canonical", [
    ("int", "integer"), ("INT4", "integer"), ("pg_catalog.int4", "integer"), ("serial4", "integer"),
    ("serial8", "bigint"), ("serial2", "smallint"), ("bigserial", "bigint"), ("int8", "bigint"),
    ("varchar(100)", "character varying(100)"), ("pg_catalog.varchar(100)", "character varying(100)"),
    ("character varying", "character varying"), ("char varying(3)", "character varying(3)"),
    ("national character varying(3)", "character varying(3)"),
    ("char", "character(1)"), ("character", "character(1)"), ("nchar(2)", "character(2)"),
    ("bpchar", "bpchar"), ("bpchar(4)", "character(4)"),
    ("bit", "bit(1)"), ("varbit", "bit varying"), ("bit varying(5)", "bit varying(5)"),
    ("float", "double precision"), ("float(24)", "real"), ("float(25)", "double precision"), ("float4", "real"),
    ("double precision", "double precision"), ("decimal(10,2)", "numeric(10,2)"), ("bool", "boolean"),
    ("timestamp", "timestamp without time zone"), ("timestamptz", "timestamp with time zone"),
    ("timestamp(3) with time zone", "timestamp(3) with time zone"), ("time without time zone", "time without time zone"),
    ("timetz", "time with time zone"), ("interval day to second(3)", "interval(3)"),
    ("int[]", "integer[]"), ("int array", "integer[]"), ("int array[]", "integer[]"), ("int ARRAY[4]", "integer[]"),
    ("varchar(100)[]", "character varying(100)[]"), ("varchar(50)[3][4]", "character varying(50)[][]"),
    ('"MyType"', "MyType"), ("app.mood", "app.mood"), ("app.mood[]", "app.mood[]"),
    # quoted, a name is looked up in pg_type as written: "char" is the one-byte type, not character(1)
    ('"char"', '"char"'), ('pg_catalog."char"[]', '"char"[]'), ('"int4"', "integer"), ('"varchar"(3)', "character varying(3)"),
    ('"bpchar"', "bpchar"), ('"timestamp"', "timestamp without time zone"), ('"integer"', '"integer"'),
])
def test_every_spelling_is_one_canonical_name(spelling, canonical):
    assert str(parse_type(spelling)) == canonical


def test_serial_is_its_integer_type_plus_a_sequence():
    serial = parse_type("serial8")
    assert serial.serial and serial.name == "bigint" and serial.declared() == "bigserial"
    assert not parse_type("bigint").serial


@pytest.mark.parametrize("text", ["", "varchar(", "int int", "'text'", "numeric(a)"])
def test_what_is_not_one_type_is_none(text):
    assert parse_type(text) is None


def test_a_cast_chain_rewrites_when_any_step_does():
    varchar10, text, integer = parse_type("varchar(10)"), parse_type("text"), parse_type("int")
    assert type_change_rewrites(varchar10, text, [parse_type("varchar(20)")]) is False
    assert type_change_rewrites(varchar10, text, [integer]) is True


def test_timestamp_to_timestamptz_depends_on_the_session_time_zone_from_12():
    old, new = parse_type("timestamp"), parse_type("timestamptz")
    assert type_change_rewrites(old, new, pg_version=12) is None
    assert type_change_rewrites(old, new, pg_version=11) is True
