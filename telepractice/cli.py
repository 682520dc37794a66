"""The operator's command line: serve, demo, database, staff, keys, cases, audit."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from telepractice.audit import AuditLog
from telepractice.config import ConfigError, Settings, load_settings
from telepractice.crypto.keyring import Keyring, KeyringError
from telepractice.errors import TelepracticeError
from telepractice.storage.engine import SessionFactory, make_engine, make_session_factory
from telepractice.storage.models import Case, StaffRole

ACTOR = "cli"


class CommandFailed(Exception):
    """A command could not do what was asked; the message says why in one line."""


async def _with_database(settings: Settings, work: Callable[[SessionFactory, Keyring, AuditLog], Awaitable[Any]]) -> Any:
    from telepractice.server import migrate

    await migrate(settings)
    engine = make_engine(settings.database_url)
    try:
        return await work(make_session_factory(engine), Keyring(settings.key_directory), AuditLog())
    finally:
        await engine.dispose()


def _read_password(args: argparse.Namespace) -> str:
    """From a file or an interactive prompt; never from the command line, where `ps` would show it."""
    if args.password_file:
        try:
            return Path(args.password_file).read_text().rstrip("\n")
        except OSError as error:
            raise CommandFailed(f"cannot read the password file: {error.strerror}") from None
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12 characters or more): ")
    if first != getpass.getpass("Again: "):
        raise CommandFailed("the two passwords differ")
    return first


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.server import migrate, serve

    asyncio.run(migrate(settings))
    serve(settings)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.demo import describe, prepare_demo
    from telepractice.server import serve

    demo = asyncio.run(_with_database(settings, lambda db, keyring, audit: prepare_demo(settings, db, keyring, audit)))
    text = describe(settings, demo)
    if args.no_serve:
        print(text)
        return 0
    serve(settings, banner=text + f"\n\nServing {settings.public_origin}/ (Ctrl+C stops).")
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.server import migrate
    from telepractice.storage.migrations import head_revision

    asyncio.run(migrate(settings))
    print(f"database is at revision {head_revision()}")
    return 0


def cmd_staff_add(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.auth.staff import add_staff

    password = _read_password(args)
    member = asyncio.run(_with_database(settings, lambda db, _k, audit: add_staff(
        db, audit, username=args.username, display_name=args.name or args.username, role=args.role,
        password=password, actor=ACTOR)))
    print(f"added {member.role} {member.username} ({member.id})")
    return 0


def cmd_staff_disable(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.auth.staff import disable_staff

    asyncio.run(_with_database(settings, lambda db, _k, audit: disable_staff(db, audit, args.username, ACTOR)))
    print(f"disabled {args.username}; their logins have ended")
    return 0


def cmd_staff_list(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.auth.staff import list_staff

    for member in asyncio.run(_with_database(settings, lambda db, _k, _a: list_staff(db))):
        state = "disabled" if member.disabled_at else "active"
        print(f"{member.username:<24} {member.role:<11} {state}")
    return 0


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.crypto.case_keys import rotate_key_encryption_key

    report = asyncio.run(_with_database(settings, lambda db, keyring, audit: rotate_key_encryption_key(
        db, keyring, audit, ACTOR)))
    print(f"new key-encryption key {report.new_kek_id}; {report.rewrapped} case keys re-wrapped; "
          f"retired {len(report.retired)} old key(s)")
    return 0


def cmd_keys_rotate_signing(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.auth.signing_keys import SigningKeyring

    async def rotate(db: SessionFactory, _keyring: Keyring, audit: AuditLog) -> str:
        kid = SigningKeyring(settings.key_directory, settings).rotate()
        async with audit.recording(db) as session:
            await audit.append(session, actor=ACTOR, action="keys.rotate-signing", target=f"kid:{kid}")
        return kid

    print(f"new token signing key {asyncio.run(_with_database(settings, rotate))}; the previous one verifies "
          f"tokens for {2 * settings.access_token_minutes} more minutes")
    return 0


def cmd_case_erase(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.crypto.case_keys import erase_case

    if not args.yes:
        answer = input(f"Erase case {args.reference} for good? Nothing of it can be read again. Type its reference: ")
        if answer.strip() != args.reference:
            raise CommandFailed("not confirmed; nothing was erased")

    async def erase(db: SessionFactory, keyring: Keyring, audit: AuditLog) -> None:
        async with db() as session:
            case = await session.scalar(select(Case).where(Case.reference == args.reference))
        if case is None:
            raise CommandFailed(f"no case with reference {args.reference}")
        await erase_case(db, keyring, audit, case.id, ACTOR)

    asyncio.run(_with_database(settings, erase))
    print(f"case {args.reference} erased: its data key is destroyed and the erasure is in the key ledger")
    return 0


def cmd_case_export(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.cases.export import build_export, write_export

    document = asyncio.run(_with_database(settings, lambda db, keyring, audit: build_export(
        db, keyring, audit, args.reference, ACTOR)))
    try:
        json_path, html_path = write_export(document, Path(args.out))
    except OSError as error:
        raise CommandFailed(f"cannot write to {args.out}: {error.strerror}") from None
    print(f"exported case {args.reference}: {json_path} and {html_path} (personal data: keep them safe)")
    return 0


def cmd_report_contacts(settings: Settings, args: argparse.Namespace) -> int:
    from telepractice.sessions.contacts import as_csv, as_text, contacts_report

    rows = asyncio.run(_with_database(settings, lambda db, _k, _a: contacts_report(db, settings, weeks=args.weeks)))
    print(as_text(rows))
    if args.csv:
        try:
            Path(args.csv).write_text(as_csv(rows), encoding="utf-8")
        except OSError as error:
            raise CommandFailed(f"cannot write {args.csv}: {error.strerror}") from None
        print(f"wrote {len(rows)} row(s) to {args.csv}")
    return 0


def cmd_audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    async def verify(db: SessionFactory, _keyring: Keyring, audit: AuditLog) -> Any:
        async with db() as session:
            return await audit.verify(session)

    report = asyncio.run(_with_database(settings, verify))
    if report.intact:
        print(f"audit log intact: {report.entries} entries, head {report.head_hash}")
        return 0
    print(f"audit log BROKEN at entry {report.first_broken_seq}: {report.problem} "
          f"({report.entries} entries verified before it)")
    return 1


class _Parser(argparse.ArgumentParser):
    """No abbreviated options: '--password' must not quietly mean '--password-file'."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="telepractice", description=__doc__)
    parser.add_argument("--data-dir", help="data directory (default ./var, or TELEPRACTICE_DATA_DIR)")
    parser.add_argument("--config", help="TOML configuration file (or TELEPRACTICE_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("serve", help="serve HTTPS").set_defaults(run=cmd_serve)
    demo = commands.add_parser("demo", help="prepare demo data, print logins and links, and serve")
    demo.add_argument("--no-serve", action="store_true", help="prepare and print only")
    demo.set_defaults(run=cmd_demo)

    db = commands.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(run=cmd_db_upgrade)

    staff = commands.add_parser("staff", help="staff accounts").add_subparsers(dest="staff_command", required=True)
    add = staff.add_parser("add", help="add a staff account (password from a prompt, a file or stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=[role.value for role in StaffRole])
    add.add_argument("--name", help="display name")
    add.add_argument("--password-file", help="file holding the password")
    add.set_defaults(run=cmd_staff_add)
    disable = staff.add_parser("disable", help="disable an account and end its logins")
    disable.add_argument("username")
    disable.set_defaults(run=cmd_staff_disable)
    staff.add_parser("list", help="list accounts").set_defaults(run=cmd_staff_list)

    keys = commands.add_parser("keys", help="keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("rotate", help="new key-encryption key; re-wrap every case key").set_defaults(run=cmd_keys_rotate)
    keys.add_parser("rotate-signing", help="new token signing key").set_defaults(run=cmd_keys_rotate_signing)

    case = commands.add_parser("case", help="case records").add_subparsers(dest="case_command", required=True)
    erase = case.add_parser("erase", help="crypto-shred a case")
    erase.add_argument("reference")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(run=cmd_case_erase)
    export = case.add_parser("export", help="write a case's whole record as JSON and HTML (audited)")
    export.add_argument("reference")
    export.add_argument("--out", required=True, metavar="DIR", help="directory for REF.json and REF.html")
    export.set_defaults(run=cmd_case_export)

    report = commands.add_parser("report", help="reports").add_subparsers(dest="report_command", required=True)
    contacts = report.add_parser("contacts", help="contacts held versus required, per case and week")
    contacts.add_argument("--weeks", type=int, default=4, choices=range(1, 53), metavar="N", help="weeks back (1-52)")
    contacts.add_argument("--csv", metavar="FILE", help="also write the report as CSV")
    contacts.set_defaults(run=cmd_report_contacts)

    audit = commands.add_parser("audit", help="audit log").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="check the hash chain").set_defaults(run=cmd_audit_verify)
    return parser


def main(argv: Sequence[str] | None = None, environ: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    environment = dict(os.environ if environ is None else environ)
    if args.config:
        environment["TELEPRACTICE_CONFIG"] = args.config
    try:
        settings = load_settings(environment, {"data_dir": args.data_dir})
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Each applied migration is worth a line; alembic's plugin chatter is not.
        logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
        return args.run(settings, args)
    except (ConfigError, KeyringError, CommandFailed) as error:
        print(f"telepractice: {error}", file=sys.stderr)
        return 2
    except TelepracticeError as error:
        print(f"telepractice: {error.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
