#!/usr/bin/env python3
"""Erasure drill: people delete their accounts at the very moment others act on them.

  python3 scripts/erasure_drill.py [--backend postgres|sqlite] [--people 40] [--no-build]

CI runs it on the debug build (`DRILL_BINARY=target/debug/coproduce`) with 20 people a race.

Seeds, through the API, `--people` people for each of eight races, then releases every pair of
requests at once (one barrier for all of them):
  submit    an applicant deletes their account / submits their completed application
  decide    an applicant waitlisted earlier deletes their account / a coordinator accepts them
  invite    a co-producer in the pool deletes their account / a coordinator invites them
  accept    a co-producer invited earlier deletes their account / accepts the invitation
  archive   a co-producer in the pool deletes their account / a coordinator archives them
  rename    someone deletes their account / changes their name in another tab
  claim     a co-producer booked on an element deletes their account / claims for their time and
            bus fare on the booking, with notes
  arrange   a co-producer booked on an element deletes their account / a coordinator records the
            BSL interpreter their passport asks for as arranged, with a note
A deletion answered 503 (the database gave up on it) is sent again, as a client would.
Checks, for everyone whose deletion was answered 204: the account is anonymised and holds no
role, pool place, session, sign-in link, open invitation, seat or application awaiting a
decision, no unsent email names their account, no claim of theirs keeps its notes, nothing
arranged for their access needs is kept, and no audit
row names them (reads are kept under a tombstone); and no request was answered 500. Answers are tallied per race.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import sys
import time
import uuid

import drill_common as d
from replicas_drill import FITTING_PROFILE, element_body, parallel

RACES = ("submit", "decide", "invite", "accept", "archive", "rename", "claim", "arrange")

PASSPORT = {"needs": [{"code": "bsl_interpreter", "detail": "A registered interpreter, please"}],
            "good_day_bad_day": None, "access_to_work": False, "share_with_project_teams": True,
            "review_by": None}


def each(base: str, requests: list[tuple[str, str, str, dict | None]], label: str) -> None:
    """Sends every request, 16 at a time; raises unless every answer is 2xx. (No wrk, so CI can
    run the drill on a machine without it.)"""
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda r: d.call(base, *r), requests))
    failed = [status for status, _ in answers if not 200 <= status < 300]
    d.log(f"  {label}: {len(requests)} requests, {len(failed)} failed")
    if failed:
        raise RuntimeError(f"seeding {label}: answers {collections.Counter(failed)}")


def seed(db: d.Db, base: str, admin: str, people: int) -> dict:
    """The people of each race, with what their race needs: {race: [(user_id, token, thing)]}."""
    seeded = {}
    # submit and decide: a completed draft each; decide's are submitted and waitlisted.
    status, round_ = d.call(base, "POST", "/api/v1/rounds", admin, d.round_body(questions=1))
    assert status == 201, (status, round_)
    answers = {"answers": [{"question_id": round_["questions"][0]["id"], "text": d.ANSWER}],
               "consents": {"privacy_notice": True, "future_opportunities": False}}
    for race in ("submit", "decide"):
        ids = d.insert_users(db, f"{race}-{uuid.uuid4().hex[:6]}-", people, "applicant")
        tokens = {u: d.mint_token(u, ["applicant"]) for u in ids}
        each(base, [("PUT", "/api/v1/me/profile", tokens[u], d.PROFILE) for u in ids], f"{race}-profiles")
        each(base, [("POST", f"/api/v1/rounds/{round_['id']}/applications", tokens[u], None) for u in ids],
             f"{race}-drafts")
        drafts = dict((u, a) for a, u in db.sql(
            f"SELECT id, user_id FROM applications WHERE round_id = '{round_['id']}' AND status = 'draft'"))
        each(base, [("PATCH", f"/api/v1/applications/{drafts[u]}", tokens[u], answers) for u in ids],
             f"{race}-answers")
        seeded[race] = [(u, tokens[u], drafts[u]) for u in ids]
    ids = [u for u, _, _ in seeded["decide"]]
    tokens = {u: token for u, token, _ in seeded["decide"]}
    drafts = {u: draft for u, _, draft in seeded["decide"]}
    each(base, [("POST", f"/api/v1/applications/{drafts[u]}/submit", tokens[u], None) for u in ids],
             "decide-submits")
    each(base, [("POST", f"/api/v1/applications/{drafts[u]}/decision", admin,
                     {"outcome": "waitlisted", "feedback": "We will come back to you."}) for u in ids],
             "decide-waitlisted")
    seeded["decide"] = [(u, tokens[u], drafts[u]) for u in ids]

    # invite and accept: co-producers who fit an element of many seats.
    element_id = open_element(db, base, admin, seats=people)
    for race in ("invite", "accept"):
        ids = d.insert_users(db, f"{race}-{uuid.uuid4().hex[:6]}-", people, "coproducer", coproducer=True)
        tokens = {u: d.mint_token(u, ["coproducer"]) for u in ids}
        each(base, [("PUT", "/api/v1/me/profile", tokens[u], FITTING_PROFILE) for u in ids],
             f"{race}-profiles")
        seeded[race] = [(u, tokens[u], element_id) for u in ids]
    respond_by = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5 * 86400))
    status, invitations = d.call(base, "POST", f"/api/v1/elements/{element_id}/invitations", admin,
                                 {"coproducer_ids": [u for u, _, _ in seeded["accept"]], "respond_by": respond_by})
    assert status == 201, (status, invitations)
    by_person = {inv["coproducer_id"]: inv["id"] for inv in invitations}
    seeded["accept"] = [(u, token, by_person[u]) for u, token, _ in seeded["accept"]]

    # archive: co-producers in the pool.
    ids = d.insert_users(db, f"archive-{uuid.uuid4().hex[:6]}-", people, "coproducer", coproducer=True)
    seeded["archive"] = [(u, d.mint_token(u, ["coproducer"]), None) for u in ids]

    # rename: nothing more than an account.
    ids = d.insert_users(db, f"rename-{uuid.uuid4().hex[:6]}-", people, "applicant")
    seeded["rename"] = [(u, d.mint_token(u, ["applicant"]), None) for u in ids]

    # claim and arrange: co-producers booked on an element of their own (confirmed assignments);
    # arrange's have an access passport asking for a BSL interpreter (always to arrange).
    for race in ("claim", "arrange"):
        booked_on = open_element(db, base, admin, seats=people)
        ids = d.insert_users(db, f"{race}-{uuid.uuid4().hex[:6]}-", people, "coproducer", coproducer=True)
        tokens = {u: d.mint_token(u, ["coproducer"]) for u in ids}
        each(base, [("PUT", "/api/v1/me/profile", tokens[u], FITTING_PROFILE) for u in ids], f"{race}-profiles")
        if race == "arrange":
            each(base, [("PUT", "/api/v1/me/access-passport", tokens[u], PASSPORT) for u in ids], f"{race}-passports")
        status, invitations = d.call(base, "POST", f"/api/v1/elements/{booked_on}/invitations", admin,
                                     {"coproducer_ids": ids, "respond_by": respond_by})
        assert status == 201, (status, invitations)
        each(base, [("POST", f"/api/v1/invitations/{inv['id']}/accept", tokens[inv["coproducer_id"]], None)
                    for inv in invitations], f"{race}-bookings")
        bookings = dict((u, a) for a, u in db.sql(
            f"SELECT id, coproducer_id FROM assignments WHERE element_id = '{booked_on}' AND status = 'confirmed'"))
        seeded[race] = [(u, tokens[u], bookings[u]) for u in ids]
    return seeded


def open_element(db: d.Db, base: str, admin: str, seats: int) -> str:
    status, org = d.call(base, "POST", "/api/v1/organisations", admin,
                         {"name": "Northside Housing", "kind": "charity", "contact_email": "hello@org.example"})
    assert status == 201, (status, org)
    partner_id = d.insert_users(db, f"partner-{uuid.uuid4().hex[:6]}-", 1, "partner")[0]
    db.copy_rows("organisation_members", ["organisation_id", "user_id", "created_at"],
                 [(org["id"], partner_id, d.stamp())])
    body = {"title": "Housing support review", "summary": "We want people with lived experience to shape our review.",
            "engagement_level": "co_produce", "budget_pence": 500000, "access_budget_pence": 50000,
            "elements": [{**element_body(), "people_needed": seats}]}
    status, request = d.call(base, "POST", "/api/v1/requests", d.mint_token(partner_id, ["partner"]), body)
    assert status == 201, (status, request)
    status, triage = d.call(base, "POST", f"/api/v1/requests/{request['id']}/triage", admin,
                            {"decision": "accept", "note": "Yes"})
    assert status == 200, (status, triage)
    status, project = d.call(base, "GET", f"/api/v1/projects/{triage['project_id']}", admin)
    return project["elements"][0]["id"]


# Erasures take turns in a process, so the last of 160 at once can wait half a minute on a
# debug build; a slow answer is not what this drill checks (a wrong one is).
RACE_TIMEOUT = 300


def call(base: str, method: str, path: str, token: str | None = None, body=None):
    return d.call(base, method, path, token, body, timeout=RACE_TIMEOUT)


def the_other_request(race: str, base: str, admin: str, user_id: str, token: str, thing: str | None):
    """What someone else (or the same person, elsewhere) does at the moment of the deletion."""
    if race == "submit":
        return lambda: call(base, "POST", f"/api/v1/applications/{thing}/submit", token)
    if race == "decide":
        return lambda: call(base, "POST", f"/api/v1/applications/{thing}/decision", admin,
                              {"outcome": "accepted", "feedback": "Welcome aboard."})
    if race == "invite":
        respond_by = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5 * 86400))
        return lambda: call(base, "POST", f"/api/v1/elements/{thing}/invitations", admin,
                              {"coproducer_ids": [user_id], "respond_by": respond_by})
    if race == "accept":
        return lambda: call(base, "POST", f"/api/v1/invitations/{thing}/accept", token)
    if race == "archive":
        return lambda: call(base, "POST", f"/api/v1/coproducers/{user_id}/archive", admin,
                              {"reason": "Asked for a break"})
    if race == "claim":
        return lambda: call(base, "POST", f"/api/v1/assignments/{thing}/claims", token,
                              {"minutes_worked": 120, "note": "Two interviews at the library",
                               "expenses_pence": 480, "expenses_note": "Bus fare there and back"})
    if race == "arrange":
        return lambda: call(base, "POST", f"/api/v1/assignments/{thing}/arrangements", admin,
                              {"need": "bsl_interpreter", "arranged": True,
                               "note": "Jo, a registered interpreter, will be there"})
    return lambda: call(base, "PATCH", "/api/v1/me", token, {"full_name": "Someone Renamed"})


def left_behind(db: d.Db, user_id: str) -> list[str]:
    """What is still held about an erased person that should not be."""
    checks = {
        "the account is not anonymised": f"SELECT count(*) FROM users WHERE id = '{user_id}' "
                                         f"AND NOT (status = 'erased' AND full_name = 'Deleted account')",
        "a role": f"SELECT count(*) FROM user_roles WHERE user_id = '{user_id}'",
        "a place in the pool": f"SELECT count(*) FROM coproducers WHERE user_id = '{user_id}'",
        "a session": f"SELECT count(*) FROM sessions WHERE user_id = '{user_id}'",
        "a sign-in link": f"SELECT count(*) FROM magic_links WHERE user_id = '{user_id}'",
        "an open invitation": f"SELECT count(*) FROM invitations WHERE coproducer_id = '{user_id}' "
                              f"AND status IN ('invited', 'waitlisted')",
        "a seat": f"SELECT count(*) FROM assignments WHERE coproducer_id = '{user_id}' AND status = 'confirmed'",
        "an unsent email": f"SELECT count(*) FROM outbox WHERE user_id = '{user_id}' AND status <> 'sent'",
        "an application awaiting a decision": f"SELECT count(*) FROM applications WHERE user_id = '{user_id}' "
                                              f"AND status IN ('draft', 'submitted', 'in_review')",
        "a read audited under their id": f"SELECT count(*) FROM audit_log WHERE subject_id = '{user_id}'",
        "a claim's notes": f"SELECT count(*) FROM claims WHERE coproducer_id = '{user_id}' "
                           f"AND (note IS NOT NULL OR expenses_note IS NOT NULL)",
        "what was arranged for their access needs": f"SELECT count(*) FROM adjustment_arrangements WHERE "
                                                     f"assignment_id IN (SELECT id FROM assignments "
                                                     f"WHERE coproducer_id = '{user_id}')",
    }
    return [what for what, sql in checks.items() if db.scalar(sql)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--people", type=int, default=40, help="people in each race")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        d.build_release()
    server_core, _ = d.cores()
    db = d.fresh_db(args.backend, "erasure")
    problems = []
    answers = {race: collections.Counter() for race in RACES}
    erased = []
    try:
        svc = d.start_service("erasure", db, server_core, APP_EMAIL__WORKER="false")
        admin = d.mint_token(d.create_admin(db), ["admin"])
        seeded = seed(db, svc.base, admin, args.people)
        calls, labels = [], []
        for race in RACES:
            for user_id, token, thing in seeded[race]:
                calls.append(lambda token=token: call(svc.base, "DELETE", "/api/v1/me", token))
                labels.append((race, "delete", user_id, token))
                calls.append(the_other_request(race, svc.base, admin, user_id, token, thing))
                labels.append((race, "other", user_id, token))
        d.log(f"releasing {len(calls)} requests at once ({args.people} pairs for each of {', '.join(RACES)})")
        started = time.time()
        results = parallel(calls)
        d.log(f"  answered in {time.time() - started:.1f}s")
        for (race, which, user_id, token), (status, _body) in zip(labels, results):
            answers[race][f"{which} {status}"] += 1
            if status == 500:
                problems.append(f"{race}: a {which} request answered 500")
            if which == "delete" and status == 503:
                status, _ = call(svc.base, "DELETE", "/api/v1/me", token)
                answers[race][f"delete again {status}"] += 1
            if which == "delete" and status == 204:
                erased.append((race, user_id))
        for race, user_id in erased:
            for what in left_behind(db, user_id):
                problems.append(f"{race}: {what} left for an erased person")
        svc.kill()
    finally:
        d.stop_everything()
        db.drop()
    print()
    print(f"| race ({args.backend}, {args.people} pairs each, all released at once) | answers |")
    print("|---|---|")
    for race in RACES:
        print(f"| {race} | {', '.join(f'{k}: {v}' for k, v in sorted(answers[race].items()))} |")
    print()
    print(f"{len(erased)} people erased; {len(problems)} problems")
    for problem in collections.Counter(problems).items():
        print("  problem:", f"{problem[0]} (×{problem[1]})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
