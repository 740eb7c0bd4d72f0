"""What every command shares: connection options, the daemon client, output and errors."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import orjson
import typer

from tokenhub.client import DaemonClient
from tokenhub.config import load_settings
from tokenhub.errors import ConfigError, TokenhubError

P = ParamSpec("P")
R = TypeVar("R")
RAISE_ENV = "TOKENHUB_RAISE_ERRORS"

SocketOpt = Annotated[
    Path | None,
    typer.Option("--socket", help="Daemon Unix socket [env: TOKENHUB_SOCKET].", show_default=False),
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="TOKENHUB_URL",
        help="Talk to the daemon over HTTP at this base URL instead of the socket.",
        show_default=False,
    ),
]
TokenFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="File holding the admin token for --url [or env TOKENHUB_ADMIN_TOKEN].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Config file [env: TOKENHUB_CONFIG].", show_default=False),
]


class _LazyConsole:
    """A Rich console created on first use: ``tokenhub serve`` never loads Rich."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return getattr(self._console, name)


console: Any = _LazyConsole(stderr=False)
err_console: Any = _LazyConsole(stderr=True)


def exit_code(exc: TokenhubError) -> int:
    """Exit status for an error: 2 for bad configuration or arguments, 1 otherwise."""
    return 2 if isinstance(exc, ConfigError) else 1


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a TokenhubError as one line and exit; re-raise when TOKENHUB_RAISE_ERRORS=1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TokenhubError as exc:
            if os.environ.get(RAISE_ENV) == "1":
                raise
            err_console.print(f"error: {exc.message}", markup=False)
            raise typer.Exit(exit_code(exc)) from None

    return wrapper


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the daemon is: the root options ``--socket``, ``--url``, ``--token-file``."""

    socket: Path | None = None
    url: str | None = None
    token_file: Path | None = None


def make_client(socket: Path | None, url: str | None, token_file: Path | None) -> DaemonClient:
    """A client for the daemon chosen by --url, else the configured or default socket."""
    if url:
        return DaemonClient(url=url, token=_admin_token(token_file))
    loaded = load_settings({"socket": socket})
    return DaemonClient(socket_path=loaded.socket_path)


def connect(ctx: typer.Context) -> DaemonClient:
    """The client for the connection the root command's options chose."""
    found = ctx.find_root().obj
    conn = found if isinstance(found, Connection) else Connection()
    return make_client(conn.socket, conn.url, conn.token_file)


def _admin_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            return token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
    return os.environ.get("TOKENHUB_ADMIN_TOKEN")


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@dataclass(frozen=True, slots=True)
class Col:
    """A table column. A ``key`` column (an id a user acts on) keeps its width; others fold.

    ``drop`` ranks the columns that may be left out when the terminal cannot show every
    column at its narrowest: the highest goes first, 0 never.
    """

    header: str
    key: bool = False
    drop: int = 0
    justify: Literal["left", "right"] = "left"


Cells = Sequence[Sequence[Any]]
_CELL_EXTRA = 3
"""Each column's padding (one space either side) and its border on the right."""


def print_table(title: str | None, columns: Sequence[str | Col], rows: Cells) -> None:
    """Print rows as a rich table that fits the terminal without cutting any text.

    Key columns never shrink, the others fold; when even that cannot fit, the lesser
    columns (by ``Col.drop``) are left out and a line says which.
    """
    from rich.table import Table

    cols = [c if isinstance(c, Col) else Col(c) for c in columns]
    texts = [["" if cell is None else str(cell) for cell in row] for row in rows]
    width = console.width
    kept = fitting(cols, texts, width)
    # Rich never narrows a no_wrap column, but crops it when nothing else is left to give:
    # in a terminal too narrow even for the key columns, they fold like the others.
    roomy = 1 + sum(narrowest(cols[i], [row[i] for row in texts]) for i in kept) <= width
    table = Table(title=title, show_header=True, header_style="bold")
    for index in kept:
        col = cols[index]
        keep_whole = col.key and roomy
        table.add_column(col.header, justify=col.justify, no_wrap=keep_whole, overflow="fold")
    for row in texts:
        table.add_row(*(row[index] for index in kept))
    console.print(table)
    left_out = [c.header for i, c in enumerate(cols) if i not in kept]
    if left_out:
        shown = f"(hidden at {width} columns: {', '.join(left_out)}; --json has all)"
        console.print(shown, markup=False)


def fitting(cols: Sequence[Col], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """The indexes of the columns to show: all, less the lesser ones ``width`` cannot hold."""
    need = [narrowest(col, [row[i] for row in rows]) for i, col in enumerate(cols)]
    kept = list(range(len(cols)))
    droppable = sorted((i for i in kept if cols[i].drop), key=lambda i: -cols[i].drop)
    while droppable and 1 + sum(need[i] for i in kept) > width:
        kept.remove(droppable.pop(0))
    return kept


def narrowest(col: Col, cells: Sequence[str]) -> int:
    """The fewest terminal columns ``col`` takes: its padding, border and widest text.

    A key column's text is whole; the others wrap at spaces, so their longest word counts.
    """
    from rich.cells import cell_len

    texts = [col.header, *cells]
    if col.key:
        return _CELL_EXTRA + max(cell_len(t) for t in texts)
    return _CELL_EXTRA + max((cell_len(word) for t in texts for word in t.split()), default=1)


def print_pairs(pairs: Sequence[tuple[str, Any]]) -> None:
    """Print key/value lines aligned."""
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        console.print(f"{key:<{width}}  {value}", markup=False)
