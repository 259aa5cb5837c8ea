#!/usr/bin/env python3
"""Replicas drill: two server processes on one PostgreSQL database, both running the email
worker. No email may be sent twice (Message-ID counts at the SMTP sink) and no seat overfilled
(parallel accepts split across both replicas).

  python3 scripts/replicas_drill.py [--applicants 2000] [--elements 3] [--people 50] [--no-build]

  1. starts replicas A and B (release builds, one per core) on one fresh PostgreSQL database,
     with `email.transport = "smtp"` to one `python -m aiosmtpd -n` sink that logs Message-IDs;
  2. submits `--applicants` applications, alternating A and B, 16 client threads (each queues
     an email; both workers claim from the same outbox);
  3. `--elements` times: a partner's request with one element of 3 seats is accepted into a
     project, `--people` co-producers are invited, and all accept at once (threads released
     together by a barrier), alternating A and B;
  4. waits until the outbox has nothing unsent, then counts Message-IDs at the sink.
Checks: every outbox row reached the sink exactly once; every element has exactly 3 confirmed
and the rest waitlisted; the database agrees.
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
import uuid
from types import SimpleNamespace

import drill_common as d
import load_drill

FITTING_PROFILE = {
    **d.PROFILE,
    "skills": [{"code": "interviewing", "level": 3}, {"code": "writing", "level": 2}],
    "availability": {**d.PROFILE["availability"], "hours_per_month": 40,
                     "weekly": [{"day": day, "from": "09:00", "to": "13:00"}
                                for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]},
}


def element_body() -> dict:
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 40 * 86400))
    return {
        "title": "Peer interviews", "description": "Interview people who use housing support.",
        "skills_required": ["interviewing"], "skills_desired": ["writing"],
        "lived_experience_wanted": ["homelessness"], "interests": ["housing"], "people_needed": 3,
        "hours_estimate": 12, "mode": "hybrid", "location": "Leeds Central Library",
        "features": ["step_free_access", "online_option"],
        "sessions": [{"starts_at": f"{day}T10:00:00Z", "ends_at": f"{day}T12:00:00Z"}],
        "pay_rate_pence_per_hour": 2500, "content_notes": None,
    }


def parallel(calls: list) -> list:
    """Runs every call at once (released together); returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def seat_round(db: d.Db, replicas: list, admin: str, partner: str, org_id: str, people: int, load_core: str) -> tuple:
    a = replicas[0].base
    request_body = {"title": "Housing support review", "summary": "We want people with lived experience to shape our review.",
                    "engagement_level": "co_produce", "budget_pence": 500000, "access_budget_pence": 50000,
                    "elements": [element_body()]}
    status, request = d.call(a, "POST", "/api/v1/requests", partner, request_body)
    assert status == 201, (status, request)
    status, triage = d.call(a, "POST", f"/api/v1/requests/{request['id']}/triage", admin, {"decision": "accept", "note": "Yes"})
    assert status == 200, (status, triage)
    status, project = d.call(a, "GET", f"/api/v1/projects/{triage['project_id']}", admin)
    element_id = project["elements"][0]["id"]
    ids = d.insert_users(db, f"seat-{uuid.uuid4().hex[:8]}-", people, "coproducer", coproducer=True)
    d.replay(a, [("PUT", "/api/v1/me/profile", d.mint_token(u, ["coproducer"]), FITTING_PROFILE) for u in ids],
             load_core, "co-producer profiles")
    respond_by = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5 * 86400))
    status, invitations = d.call(a, "POST", f"/api/v1/elements/{element_id}/invitations", admin,
                                 {"coproducer_ids": ids, "respond_by": respond_by, "message": "We would love you on board."})
    assert status in (200, 201), (status, invitations)
    calls = []
    for i, inv in enumerate(invitations):
        base = replicas[i % len(replicas)].base
        token = d.mint_token(inv["coproducer_id"], ["coproducer"])
        calls.append(lambda base=base, inv=inv, token=token: d.call(base, "POST", f"/api/v1/invitations/{inv['id']}/accept", token))
    answers = parallel(calls)
    counted = collections.Counter(body["status"] if status == 200 else f"HTTP {status}" for status, body in answers)
    stored = db.scalar(f"SELECT count(*) FROM assignments WHERE element_id = '{element_id}' AND status = 'confirmed'")
    return counted, stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applicants", type=int, default=2000)
    parser.add_argument("--elements", type=int, default=3)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        d.build_release()
    server_core, load_core = d.cores()
    db = d.fresh_db("postgres", "replicas")
    sink_port = d.free_port()
    smtp = {"APP_EMAIL__TRANSPORT": "smtp", "APP_EMAIL__SMTP_URL": f"smtp://127.0.0.1:{sink_port}",
            "APP_EMAIL__POLL_INTERVAL_MS": "200"}
    problems = []
    try:
        seed_svc = d.start_service("replicas-seed", db, server_core, APP_EMAIL__WORKER="false")
        seeded = load_drill.seed(db, seed_svc, SimpleNamespace(coproducers=0, applicants=args.applicants), load_core)
        admin = d.mint_token(db.scalar("SELECT id FROM users WHERE email = 'admin@drill.example'"), ["admin"])
        seed_svc.kill()
        sink = d.start_sink(sink_port, d.WORK / "replicas-sink.log", load_core)
        replicas = [d.start_service("replica-a", db, "0", **smtp), d.start_service("replica-b", db, "1", **smtp)]
        status, org = d.call(replicas[0].base, "POST", "/api/v1/organisations", admin,
                             {"name": "Northside Housing", "kind": "charity", "contact_email": "hello@org.example"})
        assert status == 201, (status, org)
        partner_id = d.insert_users(db, "partner", 1, "partner")[0]
        db.copy_rows("organisation_members", ["organisation_id", "user_id", "created_at"], [(org["id"], partner_id, d.stamp())])
        partner = d.mint_token(partner_id, ["partner"])
        # Submissions split across both replicas, so both workers have email to claim.
        lines = seeded["submit_file"].read_text().splitlines()
        d.log(f"submitting {len(lines)} applications through A and B")
        half = [[], []]
        for i, line in enumerate(lines):
            path, token = line.split()
            half[i % 2].append(("POST", path, token, None))
        threads = [threading.Thread(target=d.replay, args=(replicas[i].base, half[i], None, f"submissions via {'AB'[i]}"))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seat_results = []
        for _ in range(args.elements):
            seat_results.append(seat_round(db, replicas, admin, partner, org["id"], args.people, load_core))
        deadline = time.time() + 300
        while db.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'") and time.time() < deadline:
            time.sleep(0.5)
        rows = [r[0] for r in db.sql("SELECT message_id FROM outbox")]
        unsent = db.scalar("SELECT count(*) FROM outbox WHERE status <> 'sent'")
        received = collections.Counter(sink.message_ids())
        logs = [r.log_path.read_text().count('"email sent"') for r in replicas]
    finally:
        d.stop_everything()
        db.drop()
    duplicates = {m: c for m, c in received.items() if c > 1}
    never = [m for m in rows if received[m] == 0]
    if duplicates:
        problems.append(f"{len(duplicates)} Message-IDs received more than once")
    if never or unsent:
        problems.append(f"{len(never)} emails never reached the sink, {unsent} rows unsent")
    print()
    print("| emails in the outbox | sent by A | sent by B | received by the sink | Message-IDs received twice or more | never received |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(rows)} | {logs[0]} | {logs[1]} | {sum(received.values())} | {len(duplicates)} | {len(never)} |")
    print()
    print("| element | accepts (A and B alternating, all at once) | answers | confirmed in the database |")
    print("|---|---|---|---|")
    for i, (counted, stored) in enumerate(seat_results, 1):
        print(f"| {i} | {sum(counted.values())} | {dict(counted)} | {stored} of 3 seats |")
        if stored != 3 or counted.get("accepted", 0) != 3 or counted.get("waitlisted", 0) != sum(counted.values()) - 3:
            problems.append(f"element {i}: {dict(counted)}, {stored} confirmed")
    for p in problems:
        print("  problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
