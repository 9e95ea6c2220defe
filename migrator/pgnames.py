"""Identifiers as PostgreSQL writes and chooses them: quoting, the names it gives constraints, its system catalogs.

Every identifier migrator writes into SQL goes through quote_identifier(), which quotes exactly
where PostgreSQL's quote_ident() does (case, special characters, keywords that are not
unreserved). choose_relation_name() reproduces PostgreSQL's ChooseRelationName() (with
makeObjectName()'s truncation to 63 bytes and its numeric suffixes), for the unique indexes
that ADD UNIQUE / ADD PRIMARY KEY rewrites build before PostgreSQL could name them itself.
"""

from __future__ import annotations

import re
from typing import Callable

NAMEDATALEN = 64  # identifiers are at most NAMEDATALEN - 1 = 63 bytes

# Keywords quote_ident() quotes: every category but unreserved (pg_get_keywords() catcode <> 'U'),
# PostgreSQL 15 to 18 together (quoting a word that a version does not reserve is harmless).
QUOTED_KEYWORDS = frozenset("""
all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both
case cast char character check coalesce collate collation column concurrently constraint create cross
current_catalog current_date current_role current_schema current_time current_timestamp current_user dec
decimal default deferrable desc distinct do else end except exists extract false fetch float for foreign
freeze from full grant greatest group grouping having ilike in initially inner inout int integer intersect
interval into is isnull join json json_array json_arrayagg json_exists json_object json_objectagg json_query
json_scalar json_serialize json_table json_value lateral leading least left like limit localtime
localtimestamp merge_action national natural nchar none normalize not notnull null nullif numeric offset on
only or order out outer overlaps overlay placing position precision primary real references returning right
row select session_user setof similar smallint some substring symmetric system_user table tablesample then
time timestamp to trailing treat trim true union unique user using values varchar variadic verbose when
where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
xmlroot xmlserialize xmltable
""".split())

_PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_$]*$")


def quote_identifier(name: str) -> str:
    """An identifier as SQL text, quoted where PostgreSQL's quote_ident() quotes it."""
    if _PLAIN_IDENTIFIER.match(name) and name not in QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def clip_name(name: str, limit: int) -> str:
    """The longest prefix of name within limit bytes that does not split a character (pg_mbcliplen)."""
    encoded = name.encode()
    if len(encoded) <= limit:
        return name
    return encoded[:limit].decode(errors="ignore")


def make_object_name(name1: str, name2: str | None, label: str | None) -> str:
    """PostgreSQL's makeObjectName(): name1_name2_label in at most 63 bytes, cutting the longer
    of name1 and name2 first."""
    overhead = (len(label.encode()) + 1 if label else 0) + (1 if name2 else 0)
    available = NAMEDATALEN - 1 - overhead
    length1, length2 = len(name1.encode()), len(name2.encode()) if name2 else 0
    while length1 + length2 > available:
        if length1 > length2:
            length1 -= 1
        else:
            length2 -= 1
    parts = [clip_name(name1, length1)]
    if name2:
        parts.append(clip_name(name2, length2))
    if label:
        parts.append(label)
    return "_".join(parts)


def index_name_addition(columns: list[str]) -> str:
    """PostgreSQL's ChooseIndexNameAddition(): the column names joined by '_', cut near 63 bytes."""
    text = ""
    for column in columns:
        if text:
            text += "_"
        text += column
        if len(text.encode()) >= NAMEDATALEN:
            break
    return clip_name(text, NAMEDATALEN - 1)


def choose_relation_name(name1: str, name2: str | None, label: str, taken: Callable[[str], bool]) -> str:
    """PostgreSQL's ChooseRelationName(): the first of name1_name2_label, ..._label1, ..._label2
    that taken() says is free (taken: is a relation or constraint of that name in the schema)."""
    candidate = make_object_name(name1, name2, label)
    number = 0
    while taken(candidate):
        number += 1
        candidate = make_object_name(name1, name2, f"{label}{number}")
    return candidate


# The system catalogs (pg_class relkind 'r' in pg_catalog), PostgreSQL 10 to 18 together. A bare name finds them
# first: pg_catalog is searched before the search_path unless the path names it later.
SYSTEM_CATALOGS = frozenset("""
pg_aggregate pg_am pg_amop pg_amproc pg_attrdef pg_attribute pg_auth_members pg_authid pg_cast pg_class
pg_collation pg_constraint pg_conversion pg_database pg_db_role_setting pg_default_acl pg_depend pg_description
pg_enum pg_event_trigger pg_extension pg_foreign_data_wrapper pg_foreign_server pg_foreign_table pg_index
pg_inherits pg_init_privs pg_language pg_largeobject pg_largeobject_metadata pg_namespace pg_opclass pg_operator
pg_opfamily pg_parameter_acl pg_partitioned_table pg_pltemplate pg_policy pg_proc pg_publication
pg_publication_namespace pg_publication_rel pg_range pg_replication_origin pg_rewrite pg_seclabel pg_sequence
pg_shdepend pg_shdescription pg_shseclabel pg_statistic pg_statistic_ext pg_statistic_ext_data pg_subscription
pg_subscription_rel pg_tablespace pg_transform pg_trigger pg_ts_config pg_ts_config_map pg_ts_dict pg_ts_parser
pg_ts_template pg_type pg_user_mapping
""".split())


def is_system_catalog(schema: str | None, name: str) -> bool:
    """Whether a table name, as written, is one of PostgreSQL's system catalogs."""
    return schema in (None, "pg_catalog") and name in SYSTEM_CATALOGS
