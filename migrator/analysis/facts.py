"""The facts the analyzer states about a statement: locks, actions, rewrites, scans, settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from sqlglot import exp

from migrator.pgtypes import PgType
from migrator.sqltext import Relation


class Lock(IntEnum):
    """PostgreSQL table-level lock modes, weakest first."""

    ACCESS_SHARE = 1
    ROW_SHARE = 2
    ROW_EXCLUSIVE = 3
    SHARE_UPDATE_EXCLUSIVE = 4
    SHARE = 5
    SHARE_ROW_EXCLUSIVE = 6
    EXCLUSIVE = 7
    ACCESS_EXCLUSIVE = 8

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    @property
    def blocks_writes(self) -> bool:
        """SHARE and stronger: queued or held, it stops writers (and, from EXCLUSIVE, readers)."""
        return self >= Lock.SHARE

    @property
    def conflicts(self) -> frozenset["Lock"]:
        """The modes this one conflicts with (PostgreSQL's table of conflicting lock modes)."""
        return _CONFLICTS[self]

    def covered_by(self, held) -> bool:
        """Can a transaction that holds the modes `held` on a relation take this one there without a
        new wait? Yes when every mode this one conflicts with conflicts with a held one too (nobody
        else can hold such a mode while we hold ours)."""
        return self.conflicts <= frozenset().union(*(mode.conflicts for mode in held))


_CONFLICTS = {
    Lock.ACCESS_SHARE: frozenset({Lock.ACCESS_EXCLUSIVE}),
    Lock.ROW_SHARE: frozenset({Lock.EXCLUSIVE, Lock.ACCESS_EXCLUSIVE}),
    Lock.ROW_EXCLUSIVE: frozenset({Lock.SHARE, Lock.SHARE_ROW_EXCLUSIVE, Lock.EXCLUSIVE, Lock.ACCESS_EXCLUSIVE}),
    Lock.SHARE_UPDATE_EXCLUSIVE: frozenset(Lock) - {Lock.ACCESS_SHARE, Lock.ROW_SHARE, Lock.ROW_EXCLUSIVE},
    Lock.SHARE: frozenset(Lock) - {Lock.ACCESS_SHARE, Lock.ROW_SHARE, Lock.SHARE},
    Lock.SHARE_ROW_EXCLUSIVE: frozenset(Lock) - {Lock.ACCESS_SHARE, Lock.ROW_SHARE},
    Lock.EXCLUSIVE: frozenset(Lock) - {Lock.ACCESS_SHARE},
    Lock.ACCESS_EXCLUSIVE: frozenset(Lock),
}


@dataclass
class LockTarget:
    """A lock on a relation; kind `domain_users`: on every table with a column of the domain `relation`;
    `owned_by`: on every table the role `relation` owns."""

    relation: Relation
    lock: Lock
    kind: str = "table"


@dataclass
class Setting:
    """A run-time parameter set by SET, SET LOCAL, RESET or set_config()."""

    name: str
    raw: str | None
    milliseconds: int | None  # None: DEFAULT/RESET, or not a duration
    local: bool


@dataclass
class Action:
    """One sub-command of an ALTER (or the single action of another statement)."""

    kind: str
    sql: str = ""
    column: str | None = None
    new_name: str | None = None
    constraint: str | None = None
    constraint_type: str | None = None  # check | foreign_key | unique | primary_key | exclude
    not_valid: bool = False
    using_index: str | None = None
    columns: tuple[str, ...] = ()
    partial_columns: tuple[str, ...] = ()  # assign: columns of which only an element or field is assigned (a[1], c.f)
    references: Relation | None = None
    referenced_columns: tuple[str, ...] = ()
    data_type: PgType | None = None
    using: exp.Expr | None = None  # ALTER COLUMN ... TYPE ... USING expression
    using_casts: list[PgType] | None = None  # USING col::t1::t2: [t1, t2]; None when USING is another expression
    rewrites: bool | None = False  # this action rewrites the table; None: depends on what is not known here
    scans: bool = False  # this action reads every row of the table (a validation, an index build)
    default: exp.Expr | None = None
    not_null: bool = False
    check_not_null_column: str | None = None
    generated: str | None = None  # serial | identity | stored | virtual
    concurrently: bool = False
    value: str | None = None
    partition: Relation | None = None
    guarded: bool = False  # IF EXISTS / IF NOT EXISTS given: a re-run skips it instead of failing
    position: str | None = None  # ADD VALUE ... BEFORE / AFTER
    column_constraints: list["Action"] = field(default_factory=list)  # a column's own constraints (kind column_constraint)
    # ALTER COLUMN TYPE drops and re-adds every foreign key the column is in, at either end: this lock
    # on the table at the other end of each (which tables: the catalog's; migrator.oracle reads them)
    partner_lock: Lock | None = None

    def constraints_of(self, constraint_type: str) -> list["Action"]:
        """This column's constraints of one type (a column may carry several: UNIQUE REFERENCES ...)."""
        return [c for c in self.column_constraints if c.constraint_type == constraint_type]


@dataclass(eq=False)
class Routine:
    """A function or procedure a migration creates: a call of it later in the migration runs its body
    there. What the body is (PL/pgSQL or SQL text, else None) is read from its CREATE statement's tokens
    (`definition`, after the name) when a call needs it."""

    name: Relation
    definition: list = field(repr=False)
    body: tuple[str, str] | None = field(default=None, init=False, repr=False)  # (language, text), once read
    read: bool = field(default=False, init=False, repr=False)


@dataclass
class Statement:
    """Facts about one SQL statement."""

    sql: str
    line: int
    column: int
    end_line: int
    kind: str
    relation: Relation | None = None
    locks: list[LockTarget] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    rewrites: bool = False
    scans: bool = False
    concurrently: bool = False
    no_transaction: str | None = None
    if_not_exists: bool = False
    if_exists: bool = False
    settings: list[Setting] = field(default_factory=list)
    unanalyzable: str | None = None
    syntax_error: str | None = None  # why PostgreSQL refuses it (it is unanalyzable for that reason too)
    children: list["Statement"] = field(default_factory=list)
    parent: "Statement | None" = None
    index: int = 0
    # an Alembic revision's statement that its autocommit_block() sends: "enter" (the COMMIT of the revision's
    # transaction as the block begins) or "exit" (the BEGIN of the next one as it ends); None: any other
    alembic_block: str | None = None
    routine: Routine | None = None  # CREATE FUNCTION / PROCEDURE: the routine it creates

    @property
    def max_lock(self) -> Lock | None:
        return max((target.lock for target in self.locks), default=None)

    def lock_on(self, relation: Relation) -> Lock | None:
        return max((t.lock for t in self.locks if t.relation.matches(relation)), default=None)

    @property
    def chains(self) -> bool:
        """COMMIT AND CHAIN / ROLLBACK AND CHAIN: the transaction it ends is followed at once by a new one."""
        return any(action.kind == "chain" for action in self.actions)

    def add_lock(self, relation: Relation | None, lock: Lock, kind: str = "table") -> None:
        if relation is not None:
            self.locks.append(LockTarget(relation, lock, kind))

    @property
    def lines(self) -> range:
        return range(self.line, self.end_line + 1)

    def walk(self):
        """This statement, then the statements inside it (a DO body, the body of a routine it calls), in order."""
        yield self
        for child in self.children:
            yield from child.walk()


class Unanalyzable(Exception):
    """A statement (or part) the analyzer cannot read: reported, never assumed safe."""
