"""`credit audit ...`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import built, console
from app.cli.reviews import human_story, print_story

audit_cli = typer.Typer(no_args_is_help=True,
                        help="Audit log: verify, digest, replay, export, erase.")


@audit_cli.command("verify")
def audit_verify(
        chain: Annotated[str | None, typer.Option(help="only this chain, whole")] = None,
        from_seq: Annotated[int | None, typer.Option("--from-seq", min=1)] = None,
        to_seq: Annotated[int | None, typer.Option("--to-seq", min=1)] = None,
        jobs: Annotated[int | None, typer.Option(min=1, help="workers for the whole log "
                                                 "[default: one per CPU]")] = None) -> None:
    """Check the hash chains against the latest signed digest kept beside the log and the
    newest anchored one; exit 1 naming the first bad record. With --chain, that chain whole
    (from seq 1, against its signed heads); with --from-seq/--to-seq only that range's links
    (no completeness test)."""
    from audit.verify import default_jobs, verify_entries

    t = time.perf_counter()
    with built() as b:
        if from_seq is not None or to_seq is not None:
            result = verify_entries(b.audit.entries(chain, from_seq, to_seq), partial=True)
            text = (f"OK: the links of {result.checked} records in range (completeness not "
                    "tested)" if result.ok else f"FAILED at {result.first_bad}: "
                    f"{result.problem}")
        else:
            report = b.verify(chain, jobs=jobs or default_jobs())
            result, text = report.result, report.summary()
    secs = time.perf_counter() - t
    if result.ok:
        console.print(f"{text} ({secs:.2f}s)")
        return
    console.print(f"[red]{text}[/]")
    raise typer.Exit(1)


@audit_cli.command("digest")
def audit_digest() -> None:
    """Sign a digest of the current chain heads now; store it beside the log and anchor it."""
    with built() as b:
        d = b.digest_writer().write_now()
    console.print(f"digest {d.issued_at}: {len(d.heads)} chains, key {d.key_id}"
                  + (", anchored" if b.anchor is not None else ""))


@audit_cli.command("replay")
def audit_replay(decision_id: str,
                 as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
                 ) -> None:
    """Re-score a decision from its record with its recorded model version; exit 1 on any
    difference in probability, outcome or contributions."""
    import orjson

    from audit.records import DecisionRecord, parse_record
    from decision.replay import ScorerCache, replay_record
    from models.registry import ModelRegistry

    with built() as b:
        entry = b.audit.get_decision(decision_id)
        if entry is None:
            console.print(f"[red]no decision {decision_id} in the audit log[/]")
            raise typer.Exit(2)
        record = parse_record(entry.body)
        if not isinstance(record, DecisionRecord):
            console.print(f"[red]{decision_id} is not a decision record[/]")
            raise typer.Exit(2)
        s = b.settings
        registry = ModelRegistry(s.mlflow_uri, record.model.name, s.mlflow_artifacts_dir)
        inputs = b.record_reader.inputs(record)
        if inputs is None:
            console.print(f"[red]decision {decision_id} cannot be replayed: its customer's data "
                          "was erased[/]")
            raise typer.Exit(2)
        result = replay_record(record, inputs, ScorerCache(registry.load),
                               b.policy_admin.policy)
        story = human_story(b, record)
    if as_json:
        typer.echo(orjson.dumps({"decision_id": decision_id, "identical": result.identical,
                                 "decided_by": result.decided_by, "version": result.version,
                                 "differences": result.differences,
                                 "replayed": result.replayed, **story},
                                option=orjson.OPT_INDENT_2))
    print_story(story)
    if result.identical:
        console.print(f"IDENTICAL: decision {decision_id} with {result.summary()}")
        return
    console.print(f"[red]DIFFERENT[/]: decision {decision_id} ({result.decided_by} "
                  f"{result.version}):")
    for d in result.differences:
        console.print(f"  {d}")
    raise typer.Exit(1)


@audit_cli.command("export")
def audit_export(
        country: Annotated[str, typer.Option(help="country code, e.g. ES")],
        from_: Annotated[str, typer.Option("--from", help="first day (or ISO time)")],
        to: Annotated[str, typer.Option(help="last day, inclusive (or ISO time, exclusive)")],
        out: Annotated[Path, typer.Option(help="output directory")],
        settle_s: Annotated[float, typer.Option("--settle-seconds", min=0)] = 5.0) -> None:
    """Export a country's decisions of a period (JSON Lines, Parquet, signed manifest);
    check it with `python -m audit.verify_export DIR`."""
    from audit.export import export, parse_bound
    from decision.application import COUNTRIES

    if country.upper() not in COUNTRIES:
        console.print(f"[red]unknown country[/] {country!r}: one of {', '.join(COUNTRIES)}")
        raise typer.Exit(2)
    try:
        start, end = parse_bound(from_), parse_bound(to, end=True)
    except (ValueError, OverflowError) as exc:
        console.print(f"[red]bad date[/]: {exc}")
        raise typer.Exit(2) from None
    if end <= start:
        console.print("[red]--to must be after --from[/]")
        raise typer.Exit(2)
    with built() as b:
        m = export(b.audit, b.digest_writer(), country.upper(), start, end, out, settle_s)
    console.print(f"exported {m['record_count']} records of {m['country']} from {m['from']} "
                  f"to {m['to']} ({len(m['chains'])} chains) to {out}")


@audit_cli.command("erase")
def audit_erase(customer_id: str,
                reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
                country: Annotated[str | None, typer.Option(
                    help="the customer's country: its retention period applies")] = None,
                actor: Annotated[str | None, typer.Option(
                    help="who (default: the OS user)")] = None) -> None:
    """Erase a customer (GDPR Art. 17) by crypto-shredding: at once, or when the legal
    retention period (CREDIT_ERASURE_HOLD_DAYS, per country) ends. Their records stay in
    the log and verify; nothing personal in them can be read or linked to them again."""
    import getpass

    with built() as b:
        result = b.eraser.request(customer_id, hold_days=b.settings.erasure_hold(country),
                                  actor=actor or f"cli:{getpass.getuser()}", reason=reason)
    if result.status == "scheduled":
        console.print(f"erasure of data key {result.key_ref} SCHEDULED for {result.due_at} "
                      "(retention period); run `credit audit erase-due` daily to carry it out")
    elif result.status == "erased":
        console.print(f"ERASED data key {result.key_ref}; removed {result.removed}")
    else:
        console.print("nothing held for that customer (the request is recorded)")


@audit_cli.command("erase-due")
def audit_erase_due() -> None:
    """Carry out every scheduled erasure whose retention period has ended (run daily)."""
    import getpass

    with built() as b:
        done = b.eraser.run_due(actor=f"cli:{getpass.getuser()}")
    for r in done:
        console.print(f"ERASED data key {r.key_ref}; removed {r.removed}")
    console.print(f"{len(done)} scheduled erasure(s) carried out")


@audit_cli.command("rotate-master-key")
def audit_rotate_master_key() -> None:
    """Re-wrap every customer data key onto the current master key (CREDIT_AUDIT_MASTER_KEY),
    opening them with CREDIT_AUDIT_OTHER_MASTER_KEYS; step 3 of
    docs/runbooks/key-rotation.md. Refuses without an explicit master key, and changes
    nothing when some key cannot be opened."""
    with built() as b:
        if b.settings.audit_master_key is None:
            console.print("[red]refused[/]: CREDIT_AUDIT_MASTER_KEY is not set; set it to the "
                          "new master key and CREDIT_AUDIT_OTHER_MASTER_KEYS to the old one "
                          "(docs/runbooks/key-rotation.md)")
            raise typer.Exit(2)
        report = b.cipher.rewrap_all()
    if report.unreadable:
        console.print(f"[red]refused[/]: {len(report.unreadable)} of {report.total} keys are "
                      f"wrapped by a master key that is not configured (first: "
                      f"{report.unreadable[0]}); nothing was changed")
        raise typer.Exit(1)
    console.print(f"re-wrapped {report.rewrapped} of {report.total} customer keys onto master "
                  f"{report.current}; {report.already} were already on it")
