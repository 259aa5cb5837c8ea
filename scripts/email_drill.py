#!/usr/bin/env python3
"""Email drill: messages per second from the outbox to a local SMTP server, against Python's
smtplib sending the same number of messages of the same size to the same server, in one run.

  python3 scripts/email_drill.py [--messages 2000] [--backend sqlite|postgres] [--repeats 3]
                                 [--no-build] [--binary target/release/coproduce]

  1. queues `--messages` real emails: applicants submit their drafts through the API with the
     worker off (each submission queues an "application received" email in the outbox);
  2. starts `python -m aiosmtpd -n` (from .venv-drills) on core 1, then the service with
     `email.transport = "smtp"` pinned to core 0; times the worker from the first to the last
     `sent_at` and checks the sink received every Message-ID;
  3. sends the same number of messages with smtplib over one connection (what our pool does),
     built beforehand with the subject and bodies of one of ours as the sink received it (the
     outbox keeps bodies sealed); times the sending only.
The ratio (ours / smtplib) is the figure; the aim is ≥ 0.8×.
"""

from __future__ import annotations

import argparse
import email.policy
import smtplib
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import drill_common as d
import load_drill


def queue_emails(db: d.Db, count: int, server_core: str, load_core: str) -> None:
    svc = d.start_service("email-seed", db, server_core, APP_EMAIL__WORKER="false")
    # The seed keeps its first drafts for GETs, which are never submitted: seed that many more.
    seeded = load_drill.seed(db, svc, SimpleNamespace(coproducers=0, applicants=count + load_drill.GET_DRAFTS),
                             load_core)
    lines = seeded["submit_file"].read_text().splitlines()
    d.replay(svc.base, [("POST", line.split()[0], line.split()[1], None) for line in lines], load_core, "submissions")
    svc.kill()
    d._started.remove(svc)
    queued = db.scalar("SELECT count(*) FROM outbox")
    if queued != count:
        raise RuntimeError(f"{queued} emails were queued, not {count}")


def keep_sealed_bodies(db: d.Db) -> None:
    """Bodies are sealed and cleared once sent: keep them to queue the same emails again."""
    db.sql("CREATE TABLE drill_sealed_bodies AS SELECT id, sealed_body FROM outbox")


def sample_received(first_message: Path) -> tuple[str, str, str, str]:
    """(recipient, subject, text, html) of one of our emails as the sink received it."""
    message = email.message_from_bytes(first_message.read_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (str(message["To"]), str(message["Subject"]), text.get_content() if text else "",
            html.get_content() if html else "")


def drain_with_service(db: d.Db, binary: str, sink_port: int, count: int, server_core: str) -> float:
    """Seconds from the first to the last email sent by the worker."""
    svc = d.start_service("email-worker", db, server_core, binary=binary or None,
                          APP_EMAIL__TRANSPORT="smtp", APP_EMAIL__SMTP_URL=f"smtp://127.0.0.1:{sink_port}")
    deadline = time.time() + 600
    while time.time() < deadline:
        left = db.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'")
        if left == 0:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the outbox did not drain in 10 minutes")
    first, last = db.sql("SELECT min(sent_at), max(sent_at) FROM outbox")[0]
    svc.kill()
    d._started.remove(svc)
    parse = lambda s: time.mktime(time.strptime(s[:19], "%Y-%m-%d %H:%M:%S")) + float("0." + (s[20:] or "0"))  # noqa: E731
    return max(parse(last) - parse(first), 1e-6) * count / max(count - 1, 1)


def smtplib_send(sink_port: int, count: int, sample: tuple[str, str, str, str]) -> float:
    """Seconds smtplib takes to send `count` messages like ours over one connection. The messages
    are built before the clock starts: only sending is compared."""
    recipient, subject, text, html = sample
    messages = []
    for i in range(count):
        message = EmailMessage()
        message["From"] = "coproduce <no-reply@coproduce.localhost>"
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = f"<smtplib-{i}-{time.time_ns()}@coproduce.localhost>"
        message.set_content(text, cte="quoted-printable")
        if html:
            message.add_alternative(html, subtype="html", cte="quoted-printable")
        messages.append(message.as_bytes(policy=email.policy.SMTP))
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink_port) as smtp:
        for raw in messages:
            smtp.sendmail("no-reply@coproduce.localhost", [recipient], raw)
    return time.perf_counter() - started


def reset_outbox(db: d.Db) -> None:
    """Puts every row back to pending with its sealed body, for the next repeat (new Message-IDs)."""
    db.sql(f"UPDATE outbox SET status = 'pending', sent_at = NULL, attempts = 0, locked_until = NULL, "
           f"sealed_body = (SELECT s.sealed_body FROM drill_sealed_bodies s WHERE s.id = outbox.id), "
           f"message_id = '<' || id || '-' || '{time.time_ns()}@coproduce.localhost>'")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--binary", default="", help="another build of coproduce to measure (e.g. before a fix)")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        d.build_release()
    server_core, load_core = d.cores()
    db = d.fresh_db(args.backend, "email")
    rows = []
    try:
        queue_emails(db, args.messages, server_core, load_core)
        keep_sealed_bodies(db)
        sample = None
        for rep in range(args.repeats):
            sink_log = d.WORK / f"sink-{rep}.log"
            Path(f"{sink_log}.first").unlink(missing_ok=True)
            sink = d.start_sink(d.free_port(), sink_log, load_core)
            if rep:
                reset_outbox(db)
            ours = drain_with_service(db, args.binary, sink.port, args.messages, server_core)
            received = len(set(sink.message_ids()))
            sample = sample or sample_received(Path(f"{sink_log}.first"))
            theirs = smtplib_send(sink.port, args.messages, sample)
            sink.stop()
            rows.append((args.messages / ours, args.messages / theirs, received))
            d.log(f"  repeat {rep + 1}: ours {rows[-1][0]:.0f}/s, smtplib {rows[-1][1]:.0f}/s, "
                  f"sink got {received} of ours")
    finally:
        d.stop_everything()
        db.drop()
    print()
    print(f"| repeat | coproduce outbox → SMTP | smtplib | ratio | received by the sink |")
    print("|---|---|---|---|---|")
    for i, (ours, theirs, received) in enumerate(rows, 1):
        print(f"| {i} | {ours:.0f} msg/s | {theirs:.0f} msg/s | {ours / theirs:.2f}× | {received}/{args.messages} |")
    ratio = d.median([o / t for o, t, _ in rows])
    print(f"\nmedian ratio {ratio:.2f}× (aim ≥ 0.8×) on {args.backend}, {args.messages} messages")
    return 0 if all(r == args.messages for _, _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
