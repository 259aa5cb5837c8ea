#!/usr/bin/env python3
"""SMTP outage drill: the mail server goes away for minutes while people keep submitting.
Nothing may be lost; everything is delivered after recovery; duplicates only as at-least-once
allows, with the same Message-ID (counted per Message-ID at the sink).

  python3 scripts/smtp_outage_drill.py [--backend sqlite|postgres] [--outage 200] [--before 10]
                                       [--after 10] [--rate 20] [--no-build]

Runs the service with `email.transport = "smtp"` to `python -m aiosmtpd -n` (a handler that logs
each Message-ID), submits applications at about `--rate` a second for `--before` seconds, stops
the sink for `--outage` seconds while submissions continue, starts it again on the same port,
submits for `--after` seconds more, then waits until the outbox holds nothing unsent.
The backoff is shortened for the drill (APP_EMAIL__RETRY_BASE_SECS=5, RETRY_MAX_SECS=30,
MAX_ATTEMPTS=100) so recovery takes seconds, not the production hour; the retry logic is the same.
Checks: every acknowledged submission has its email row; every row is `sent` (none dead or
waiting); every row's Message-ID reached the sink; how many Message-IDs arrived more than once.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from types import SimpleNamespace

import drill_common as d
import load_drill


def submit_for(base: str, work: list, seconds: float, rate: float, acknowledged: list) -> None:
    end = time.time() + seconds
    while time.time() < end and work:
        app_id, user_id, token = work.pop()
        status, body = d.call(base, "POST", f"/api/v1/applications/{app_id}/submit", token)
        if 200 <= status < 300:
            acknowledged.append((app_id, user_id))
        else:
            raise RuntimeError(f"submit answered {status}: {body}")
        time.sleep(1 / rate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--outage", type=float, default=200)
    parser.add_argument("--before", type=float, default=10)
    parser.add_argument("--after", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        d.build_release()
    server_core, load_core = d.cores()
    applicants = int((args.before + args.outage + args.after) * args.rate) + 100
    db = d.fresh_db(args.backend, "outage")
    sink_port = d.free_port()
    sink_log = d.WORK / "outage-sink.log"
    smtp = {"APP_EMAIL__TRANSPORT": "smtp", "APP_EMAIL__SMTP_URL": f"smtp://127.0.0.1:{sink_port}",
            "APP_EMAIL__RETRY_BASE_SECS": "5", "APP_EMAIL__RETRY_MAX_SECS": "30", "APP_EMAIL__MAX_ATTEMPTS": "100",
            "APP_EMAIL__SMTP_TIMEOUT_SECS": "5"}
    try:
        svc = d.start_service("outage-seed", db, server_core, APP_EMAIL__WORKER="false")
        seeded = load_drill.seed(db, svc, SimpleNamespace(coproducers=0, applicants=applicants), load_core)
        svc.kill()
        owners = dict(db.sql("SELECT id, user_id FROM applications"))
        work = []
        for line in seeded["submit_file"].read_text().splitlines():
            path, token = line.split()
            app_id = path.split("/")[4]
            work.append((app_id, owners[app_id], token))
        sink = d.start_sink(sink_port, sink_log, load_core)
        svc = d.start_service("outage", db, server_core, **smtp)
        acknowledged: list = []
        d.log(f"submitting for {args.before}s with the sink up")
        submit_for(svc.base, work, args.before, args.rate, acknowledged)
        sink.stop()
        outage_started = time.time()
        d.log(f"sink stopped; submitting for {args.outage}s")
        submit_for(svc.base, work, args.outage, args.rate, acknowledged)
        waiting = db.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'")
        failed_rows = db.scalar("SELECT count(*) FROM outbox WHERE status = 'failed'")
        sink = d.start_sink(sink_port, sink_log, load_core)
        outage = time.time() - outage_started
        d.log(f"sink back after {outage:.0f}s ({waiting} emails waiting, {failed_rows} of them after a failed attempt)")
        recovered_at = time.time()
        submit_for(svc.base, work, args.after, args.rate, acknowledged)
        deadline = time.time() + 300
        while db.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'") and time.time() < deadline:
            time.sleep(1)
        drained = time.time() - recovered_at
        statuses = {k: int(v) for k, v in db.sql("SELECT status, count(*) FROM outbox GROUP BY status")}
        rows = {r[0]: r[1] for r in db.sql("SELECT user_id, message_id FROM outbox WHERE template = 'application_received'")}
        max_attempts = db.scalar("SELECT max(attempts) FROM outbox")
        received = collections.Counter(sink.message_ids())
        svc.kill()
        sink.stop()
    finally:
        d.stop_everything()
        db.drop()
    problems = []
    for app_id, user_id in acknowledged:
        if user_id not in rows:
            problems.append(f"acknowledged {app_id} has no email row")
    unsent = {k: v for k, v in statuses.items() if k != "sent"}
    if unsent:
        problems.append(f"not sent after recovery: {unsent}")
    missing = [m for m in rows.values() if received[m] == 0]
    if missing:
        problems.append(f"{len(missing)} Message-IDs never reached the sink")
    duplicates = {m: c for m, c in received.items() if c > 1}
    strangers = [m for m in received if m not in set(rows.values())]
    print()
    print("| backend | outage | submissions acknowledged | emails waiting when the sink came back | "
          "delivered after recovery within | sent / rows | max attempts | Message-IDs received twice or more | lost |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.backend} | {outage:.0f} s | {len(acknowledged)} | {waiting} | {drained:.0f} s | "
          f"{statuses.get('sent', 0)}/{sum(statuses.values())} | {max_attempts} | {len(duplicates)} | "
          f"{len(missing) + sum(1 for a, u in acknowledged if u not in rows)} |")
    if strangers:
        print(f"  {len(strangers)} Message-IDs at the sink that are not in the outbox")
    for p in problems:
        print("  problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
