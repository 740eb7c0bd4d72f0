"""``tokenhub vault``: init, unlock, lock, status, rotate-password.

Passwords come from a hidden prompt or, for scripts, ``--password-stdin`` — never from
the command line, where other users could read them in the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tokenhub.cli.common import (
    JsonOpt,
    connect,
    console,
    handle_errors,
    print_json,
    print_pairs,
)
from tokenhub.errors import InvalidRequestError

app = typer.Typer(name="vault", help="The credential vault.", no_args_is_help=True)
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password(s) from standard input.")
]


def read_secret(prompt: str, *, from_stdin: bool, confirm: bool = False) -> str:
    """One secret from a hidden prompt, or the next line of stdin."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidRequestError("expected a password on standard input, got nothing")
        return line.rstrip("\r\n")
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return value


@app.command("init")
@handle_errors
def init(
    ctx: typer.Context,
    password_stdin: StdinOpt = False,
    json: JsonOpt = False,
) -> None:
    """Create the vault with an admin password (12+ characters); it starts unlocked."""
    password = read_secret("New vault password", from_stdin=password_stdin, confirm=True)
    result = connect(ctx).post("/admin/v1/vault/init", {"password": password})
    if json:
        print_json(result)
        return
    console.print("vault initialised and unlocked", markup=False)
    if "admin_token" in result:
        console.print(
            f"admin token for HTTP access (shown once, store it safely): {result['admin_token']}",
            markup=False,
        )


@app.command("unlock")
@handle_errors
def unlock(
    ctx: typer.Context,
    password_stdin: StdinOpt = False,
    json: JsonOpt = False,
) -> None:
    """Unlock the vault so escrowed provider keys can be used."""
    password = read_secret("Vault password", from_stdin=password_stdin)
    result = connect(ctx).post("/admin/v1/vault/unlock", {"password": password})
    _done(result, json, "vault unlocked")


@app.command("lock")
@handle_errors
def lock(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """Lock the vault now (its key is wiped from memory)."""
    result = connect(ctx).post("/admin/v1/vault/lock")
    _done(result, json, "vault locked")


@app.command("status")
@handle_errors
def status(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """Show the vault's state, idle timer, failed attempts and escrowed keys."""
    result = connect(ctx).get("/admin/v1/vault")
    if json:
        print_json(result)
        return
    kdf = result["kdf"]
    cost = (
        f"argon2id m={kdf['m_cost_kib']} KiB t={kdf['t_cost']} p={kdf['parallelism']}"
        if kdf
        else "-"
    )
    locks_in = result["locks_in_s"]
    print_pairs(
        [
            ("state", result["state"]),
            ("auto-lock in", f"{locks_in:.0f} s" if locks_in is not None else "-"),
            ("idle timeout", f"{result['idle_timeout_s'] or 'never'}"),
            ("failed attempts", result["failed_attempts"]),
            ("key derivation", cost),
            ("provider keys", ", ".join(result["provider_keys"]) or "-"),
        ]
    )


@app.command("rotate-password")
@handle_errors
def rotate_password(
    ctx: typer.Context,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read old then new password, one per line.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Change the vault password (secrets are not re-encrypted; the old password stops)."""
    old = read_secret("Current vault password", from_stdin=password_stdin)
    new = read_secret("New vault password", from_stdin=password_stdin, confirm=True)
    body = {"old_password": old, "new_password": new}
    result = connect(ctx).post("/admin/v1/vault/rotate-password", body)
    _done(result, json, "vault password changed")


def _done(result: dict[str, Any], json: bool, message: str) -> None:
    if json:
        print_json(result)
    else:
        console.print(message, markup=False)
