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
        chain: Annotated[str | None, typer.Option(help="only this chain")] = None,
        from_seq: Annotated[int | None, typer.Option("--from-seq", min=1)] = None,
        to_seq: Annotated[int | None, typer.Option("--to-seq", min=1)] = None,
        jobs: Annotated[int | None, typer.Option(min=1, help="workers for the whole log "
                                                 "[default: one per CPU]")] = None) -> None:
    """Check the hash chains against the latest signed digest; exit 1 naming the first bad
    record. With --chain/--from-seq/--to-seq only that range is checked (no truncation test
    unless the whole log is checked)."""
    from audit.verify import default_jobs, verify_entries, verify_store

    with built() as b:
        store = b.audit
        partial = chain is not None or (from_seq or 1) > 1 or to_seq is not None
        digest = b.digest_store.latest()
        if digest is not None and not digest.verify(b.digest_signer.public_key):
            console.print(f"[red]FAILED[/]: the latest digest ({digest.issued_at}) has a bad "
                          "signature")
            raise typer.Exit(1)
        t = time.perf_counter()
        result = (verify_entries(store.entries(chain, from_seq, to_seq), digest, partial=True)
                  if partial else verify_store(store, digest, jobs=jobs or default_jobs()))
        secs = time.perf_counter() - t
    if result.ok:
        against = f"digest of {digest.issued_at}" if digest and not partial else "no digest"
        console.print(f"OK: {result.checked} records in {result.chains} chains, "
                      f"checked against {against} ({secs:.2f}s)")
        return
    console.print(f"[red]FAILED[/] at {result.first_bad}: {result.problem} "
                  f"({result.checked} records good before it)")
    raise typer.Exit(1)


@audit_cli.command("digest")
def audit_digest() -> None:
    """Sign and store a digest of the current chain heads now."""
    from audit.digest import DigestWriter

    with built() as b:
        d = DigestWriter(b.audit.heads, b.digest_signer, b.digest_store, 0).write_now()
    console.print(f"digest {d.issued_at}: {len(d.heads)} chains, key {d.key_id}")


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
        assert isinstance(record, DecisionRecord)  # noqa: S101 - found by decision id
        s = b.settings
        registry = ModelRegistry(s.mlflow_uri, record.model.name, s.mlflow_artifacts_dir)
        inputs = b.record_reader.inputs(record)
        if inputs is None:
            console.print(f"[red]decision {decision_id} cannot be replayed: its customer's data "
                          "was erased[/]")
            raise typer.Exit(2)
        result = replay_record(record, inputs, ScorerCache(registry.load), b.policy)
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

    try:
        start, end = parse_bound(from_), parse_bound(to, end=True)
    except ValueError as exc:
        console.print(f"[red]bad date[/]: {exc}")
        raise typer.Exit(2) from None
    if end <= start:
        console.print("[red]--to must be after --from[/]")
        raise typer.Exit(2)
    with built() as b:
        m = export(b.audit, b.digest_signer, b.digest_store, country.upper(), start, end, out,
                   settle_s)
    console.print(f"exported {m['record_count']} records of {m['country']} from {m['from']} "
                  f"to {m['to']} ({len(m['chains'])} chains) to {out}")


@audit_cli.command("erase")
def audit_erase(customer_id: str) -> None:
    """GDPR erasure by crypto-shredding: destroy the customer's data key. Their records stay
    in the log (verify still passes) but their personal fields can no longer be read."""
    with built() as b:
        ref = b.pseudonymizer.customer_ref(customer_id)
        existed = b.customer_keys.erase(ref)
    console.print(f"customer key {ref} " + ("destroyed" if existed else "did not exist "
                                             "(nothing to erase; erasure recorded)"))


@audit_cli.command("rotate-master-key")
def audit_rotate_master_key(
        new_key_file: Annotated[Path, typer.Option(help="file holding the new 32-byte key")]
        ) -> None:
    """Re-wrap every customer data key from the current master key to a new one (see
    docs/runbooks/key-rotation.md); then point CREDIT_AUDIT_MASTER_KEY at the new key."""
    from audit.pii import EnvelopeCipher

    with built() as b:
        old = b.protector.cipher
        new = EnvelopeCipher(new_key_file.read_bytes(), old.keys)
        console.print(f"re-wrapped {new.rewrap_all(old)} customer keys: "
                      f"master {old.master_id} -> {new.master_id}")
