"""``lgsp evidence ...``: verify, archive, export, chain, and the signing key's public half.

``verify`` exit codes: 0 every chain, seal and archive holds; 1 something was edited, removed,
inserted, reordered or forged (the first break of each chain is printed); 2 it could not verify
(no trusted key, unreadable key file, database unreachable).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.settings import Settings

app = typer.Typer(help="The evidence log: verify it, archive it, export it; the public key.", no_args_is_help=True)


def _settings() -> Settings:
    from hub.logging import configure
    from hub.settings import Settings

    s = Settings()
    configure(s.log_level, s.log_json)
    return s


def _engine(s: Settings) -> Engine:
    from hub.db.engine import make_engine

    return make_engine(s.database_url)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        typer.echo(f"{name}: an ISO 8601 date and time with a time zone, e.g. 2026-01-01T00:00:00+07:00", err=True)
        raise typer.Exit(2)
    return at


@app.command()
def verify(
    archive_dir: Annotated[
        Path | None, typer.Option(help="Directory of the signed archives (default HUB_EVIDENCE_ARCHIVE_DIR)")
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            help="Trusted public key file (PEM or hex; repeatable). Default: the configured key's public half"
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar on a terminal")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Walk every chain (archives, then the database) and report the first record that was edited, removed,
    inserted or reordered, or a seal or archive that does not hold. Exit 0 intact, 1 tampered, 2 cannot verify."""
    from sqlalchemy.exc import SQLAlchemyError

    from hub.evidence.signing import Signer, SigningKeyError, key_id, load_public
    from hub.evidence.verify import verify as run

    s = _settings()
    try:
        publics = [load_public(p.read_text()) for p in public_key or []] or [Signer.from_settings(s).public]
    except (OSError, ValueError, SigningKeyError) as exc:
        typer.echo(f"cannot read a public key: {exc}", err=True)
        raise typer.Exit(2) from None
    keys = {key_id(k): k for k in publics}
    engine = _engine(s)
    directory = archive_dir or Path(s.evidence_archive_dir)
    try:
        with _progress(progress and not as_json, engine) as advance:
            report = run(engine, keys, directory, advance)
    except SQLAlchemyError as exc:
        typer.echo(f"cannot read the evidence log: {type(exc).__name__}", err=True)
        raise typer.Exit(2) from None
    lines = []
    for c in report.chains:
        if c.problem:
            lines.append(f"chain {c.chain}: BROKEN at record {c.problem.seq} ({c.problem.where}): {c.problem.message}")
        else:
            tail = f", {c.unsealed} after the last seal" if c.unsealed else ""
            lines.append(f"chain {c.chain}: intact, {c.records} records, {c.seals} seals, {c.archives} archives{tail}")
    lines += [f"{p.where}: {p.message}" for p in report.problems]
    if as_json:
        typer.echo(json.dumps(_as_dict(report), indent=1))
    else:
        typer.echo("\n".join(lines or ["no evidence recorded yet"]))
        typer.echo("evidence intact" if report.ok else "EVIDENCE TAMPERED", err=not report.ok)
    raise typer.Exit(0 if report.ok else 1)


def _as_dict(report: Any) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "chains": [
            {**{k: getattr(c, k) for k in ("chain", "records", "seals", "archives", "last_seq", "last_sealed")}}
            | {"problem": c.problem._asdict() if c.problem else None}
            for c in report.chains
        ],
        "problems": [p._asdict() for p in report.problems],
    }


class _progress:
    """A rich progress bar on stderr while on a terminal; the callback advances it by records walked."""

    def __init__(self, enabled: bool, engine: Engine) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.engine = engine
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
        from sqlalchemy import func, select

        from hub.db.schema import evidence, evidence_archives

        with self.engine.connect() as c:
            per_chain = dict(
                c.execute(select(evidence.c.chain, func.max(evidence.c.seq)).group_by(evidence.c.chain)).all()
            )
            for chain, last in c.execute(
                select(evidence_archives.c.chain, func.max(evidence_archives.c.last_seq)).group_by(
                    evidence_archives.c.chain
                )
            ):
                per_chain[chain] = max(per_chain.get(chain, 0), last)
        self.bar = Progress(
            "verifying", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)
        )
        self.bar.start()
        task = self.bar.add_task("records", total=sum(per_chain.values()) or None)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command("public-key")
def public_key() -> None:
    """Print the public key that verifies the seals and archives (PEM), and its key id: publish it."""
    from hub.evidence.signing import Signer, public_pem

    signer = Signer.from_settings(_settings())
    typer.echo(public_pem(signer.public).rstrip())
    typer.echo(f"key id: {signer.key_id}" + (" (the DEVELOPMENT key: do not trust it)" if signer.development else ""))


@app.command()
def keygen() -> None:
    """Print a new private key for HUB_EVIDENCE_SIGNING_KEY (keep it secret; its public key goes to stderr)."""
    from hub.evidence.signing import Signer, generate, load_private, public_pem

    key = generate()
    typer.echo(key)
    typer.echo(public_pem(Signer(load_private(key)).public).rstrip(), err=True)


@app.command()
def chain(seal: Annotated[bool, typer.Option(help="Seal every chain that grew")] = True) -> None:
    """Link every staged fact into the chains now (the relay does it continuously)."""
    from hub.evidence import jobs

    s = _settings()
    typer.echo(f"{jobs.chainer(s, _engine(s)).drain(seal=seal or None)} facts chained")


@app.command()
def retention() -> None:
    """Run the retention job once: redact the payloads past HUB_RETENTION_PAYLOAD_DAYS, and archive and prune
    evidence older than HUB_EVIDENCE_KEEP_DAYS (the relay runs it every HUB_RETENTION_INTERVAL)."""
    from hub.evidence import jobs

    s = _settings()
    payloads, segments = jobs.retention(s, _engine(s)).run_once()
    typer.echo(f"{payloads} payloads redacted, {segments} evidence segments archived and pruned")


@app.command()
def archive(
    older_than_days: Annotated[
        float | None, typer.Option(help="Archive records older than this (default HUB_EVIDENCE_KEEP_DAYS)")
    ] = None,
    before: Annotated[str | None, typer.Option(help="Or: records before this time (ISO 8601 with zone)")] = None,
    prune: Annotated[bool, typer.Option(help="Delete the archived records from the database")] = False,
    archive_dir: Annotated[Path | None, typer.Option(help="Default HUB_EVIDENCE_ARCHIVE_DIR")] = None,
) -> None:
    """Export old records to signed archive segments (JSON lines + .sig), and prune them if asked."""
    from hub.envelope import utcnow
    from hub.evidence.archive import ArchiveError
    from hub.evidence.archive import archive as run
    from hub.evidence.signing import Signer

    s = _settings()
    days = older_than_days if older_than_days is not None else s.evidence_keep_days
    cutoff = _when(before, "--before") or (utcnow() - timedelta(days=days) if days is not None else None)
    if cutoff is None:
        typer.echo("say what to archive: --older-than-days, --before, or HUB_EVIDENCE_KEEP_DAYS", err=True)
        raise typer.Exit(2)
    directory = archive_dir or Path(s.evidence_archive_dir)
    try:
        segments = run(
            _engine(s),
            Signer.from_settings(s),
            directory,
            before=cutoff,
            prune=prune,
            max_records=s.evidence_segment_records,
        )
    except ArchiveError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    for seg in segments:
        typer.echo(f"{seg.path} ({seg.manifest['count']} records{', pruned' if prune else ''})")
    typer.echo(f"{len(segments)} segments written")


@app.command()
def export(
    since: Annotated[str, typer.Option(help="From (ISO 8601 with zone), inclusive")],
    until: Annotated[str | None, typer.Option(help="Before (ISO 8601 with zone)")] = None,
    out: Annotated[Path | None, typer.Option(help="File to write (default: stdout)")] = None,
    seals: Annotated[bool, typer.Option(help="Include the seals (kind evidence.seal)")] = True,
    facts: Annotated[
        bool, typer.Option("--facts", help="One line per fact (batch records expanded), not one per record")
    ] = False,
) -> None:
    """Evidence records (and seals) as JSON lines for the security operations centre; syslog mapping in docs."""
    from hub.evidence.export import export as run

    s = _settings()
    start, end = _when(since, "--since"), _when(until, "--until")
    assert start is not None
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        n = run(_engine(s), stream, start, end, seals=seals, facts=facts)
    finally:
        if out:
            stream.close()
    typer.echo(f"{n} lines exported", err=True)
