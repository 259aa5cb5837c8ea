#!/usr/bin/env python3
"""Load drill: our service against a minimal actix-web + diesel server (examples/baseline_server.rs),
side by side in one run, on SQLite and on PostgreSQL.

  python3 scripts/load_drill.py [--backends sqlite,postgres] [--seconds 10] [--repeats 3]
                                [--coproducers 100000] [--applicants 30000] [--no-build]

For each backend it builds nothing twice, then:
  1. starts the service (release, pinned to core 0, email worker off so only the request path
     is measured) on a fresh database, creates an admin (`coproduce create-admin`) and a round;
  2. inserts users directly by SQL (what registration writes) and signs them in by minting their
     access tokens with the drill's JWT secret: 100,000 co-producers and the applicants;
  3. through the API (wrk, 32 connections): every person's profile (PUT /api/v1/me/profile),
     each applicant's draft (POST /api/v1/rounds/{id}/applications) and its answers and
     consents (PATCH /api/v1/applications/{id});
  4. restarts the service, reads its idle memory (VmRSS, VmHWM);
  5. measures, alternating baseline and service, `--repeats` times for `--seconds` each with
     wrk pinned to core 1 and 32 connections:
       - GET by id: baseline GET /items/{id} vs our authenticated GET /api/v1/applications/{id}
         (as the owner, over 1,000 drafts and their owners' tokens, which no submit touches);
       - writes: baseline POST /items (one insert in a write transaction) vs our
         POST /api/v1/applications/{id}/submit (state change, history row, outbox email),
         each submit on a different draft of the rest; drafts are put back between repeats;
       - the same writes: baseline POST /items/{id}/submit (plain diesel writing the rows our
         submit writes: guarded UPDATE, history row, outbox row of an email's size, JSON view;
         no auth, validation, rendering or logging) vs our submit, over three times as many drafts (so it never runs out);
  6. reads memory under load, and prints one table with the medians and the ratios.
Targets: GET ≥ 0.8× baseline with p99 < 25 ms; submit ≥ 0.6× the baseline insert. The ratio
against the same writes has no target in the issue: it shows how much of the gap is the work
itself and how much is what our request path adds.
"""

from __future__ import annotations

import argparse
import sys
import time

import drill_common as d

GET_LUA = r"""
local reqs = {}
local i = 0
function init(args)
  for line in io.lines(os.getenv("LOAD_FILE")) do
    local path, token = line:match("^(%S+)%s*(%S*)$")
    local headers = {}
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    reqs[#reqs + 1] = wrk.format("GET", path, headers)
  end
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
"""

SUBMIT_LUA = r"""
local reqs = {}
local i = 0
function init(args)
  for line in io.lines(os.getenv("LOAD_FILE")) do
    local path, token = line:match("^(%S+)%s*(%S*)$")
    reqs[#reqs + 1] = wrk.format("POST", path, { ["Authorization"] = "Bearer " .. token })
  end
end
function request()
  i = i + 1
  -- Out of drafts: the drill reports it (these answer 404 and count as non-2xx).
  return reqs[math.min(i, #reqs)]
end
"""

INSERT_LUA = r"""
-- The path must be set: wrk is given only the server's base address.
wrk.path = "/items"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"A new item","body":"A few sentences of text, about the size of an answer to one question."}'
"""


# How many drafts the GET run reads (and the submit runs leave alone).
GET_DRAFTS = 1000


def seed(db: d.Db, svc: d.Proc, args, load_core: str) -> dict:
    admin_id = d.create_admin(db)
    admin = d.mint_token(admin_id, ["admin"])
    status, round_ = d.call(svc.base, "POST", "/api/v1/rounds", admin, d.round_body())
    assert status == 201, (status, round_)
    round_id = round_["id"]
    question_ids = [q["id"] for q in round_["questions"]]
    d.log(f"  inserting {args.coproducers} co-producers and {args.applicants} applicants")
    coproducers = d.insert_users(db, "coproducer", args.coproducers, "coproducer", coproducer=True)
    applicants = d.insert_users(db, "applicant", args.applicants, "applicant")
    tokens = {uid: d.mint_token(uid, ["applicant"]) for uid in applicants}
    d.replay(svc.base, [("PUT", "/api/v1/me/profile", d.mint_token(uid, ["coproducer"]), d.PROFILE)
                        for uid in coproducers], load_core, "co-producer profiles")
    d.replay(svc.base, [("PUT", "/api/v1/me/profile", tokens[uid], d.PROFILE) for uid in applicants],
             load_core, "applicant profiles")
    d.replay(svc.base, [("POST", f"/api/v1/rounds/{round_id}/applications", tokens[uid], None) for uid in applicants],
             load_core, "drafts")
    drafts = db.sql(f"SELECT id, user_id FROM applications WHERE round_id = '{round_id}' ORDER BY id")
    profiles = db.scalar("SELECT count(*) FROM profiles")
    if len(drafts) != args.applicants or profiles != args.applicants + args.coproducers:
        raise RuntimeError(f"seeding stored {len(drafts)} drafts and {profiles} profiles")
    body = {"answers": [{"question_id": q, "text": d.ANSWER} for q in question_ids],
            "consents": {"privacy_notice": True, "future_opportunities": False}}
    d.replay(svc.base, [("PATCH", f"/api/v1/applications/{aid}", tokens[uid], body) for aid, uid in drafts],
             load_core, "answers")
    consented = db.scalar("SELECT count(*) FROM applications WHERE consents LIKE '%\"privacy_notice\":true%'")
    if consented != len(drafts):
        raise RuntimeError(f"only {consented} of {len(drafts)} drafts were completed")
    # The GETs read drafts that nothing submits: each repeat reads the same, unchanged applications.
    read, submittable = drafts[:GET_DRAFTS], drafts[GET_DRAFTS:]
    get_file = d.WORK / f"{db.kind}-get.txt"
    get_file.write_text("".join(f"/api/v1/applications/{aid} {tokens[uid]}\n" for aid, uid in read))
    submit_file = d.WORK / f"{db.kind}-submit.txt"
    submit_file.write_text("".join(f"/api/v1/applications/{aid}/submit {tokens[uid]}\n" for aid, uid in submittable))
    return {"get_file": get_file, "submit_file": submit_file, "drafts": len(submittable), "round_id": round_id}


def reset_drafts(db: d.Db) -> None:
    """Puts submitted applications back to draft, so each repeat submits fresh drafts. (The
    triggers remove their stored owner's views with it; the submits store new ones.)"""
    for statement in (
        "DELETE FROM application_transitions WHERE to_status = 'submitted'",
        "UPDATE applications SET status = 'draft', submitted_at = NULL, answer_by = NULL WHERE status = 'submitted'",
        "DELETE FROM outbox",
    ):
        db.sql(statement)


def count_acknowledged_only(result) -> None:
    """Only acknowledged (2xx) writes count: a run that ran out of drafts says so."""
    result.rps = (result.requests - result.non_2xx) / result.seconds


def reset_baseline_drafts(db: d.Db) -> None:
    for statement in (
        "DELETE FROM baseline_views",
        "DELETE FROM baseline_history",
        "DELETE FROM baseline_outbox",
        "UPDATE baseline_items SET status = 'draft' WHERE status = 'submitted'",
    ):
        db.sql(statement)


def run_backend(kind: str, args, server_core: str, load_core: str) -> dict:
    d.log(f"== {kind}")
    db = d.fresh_db(kind, "load")
    base_db = d.fresh_db(kind, "baseline")
    try:
        svc = d.start_service(f"service-{kind}", db, server_core, APP_EMAIL__WORKER="false")
        seeded = seed(db, svc, args, load_core)
        svc.kill()
        svc = d.start_service(f"service-{kind}", db, server_core, APP_EMAIL__WORKER="false")
        time.sleep(2)
        idle = svc.memory_kb()
        # Three times as many drafts as ours (the GETs read the first 1,000, the submits the
        # rest): its plainer submit must not run out of drafts before the run ends.
        base_drafts = args.applicants * 3
        base = d.start_baseline(base_db, server_core, seed=base_drafts)
        scripts = {}
        for name, text in (("get", GET_LUA), ("submit", SUBMIT_LUA), ("insert", INSERT_LUA)):
            scripts[name] = d.WORK / f"{name}.lua"
            scripts[name].write_text(text)
        base_get_file = d.WORK / f"{kind}-baseline-get.txt"
        base_get_file.write_text("".join(f"/items/item-{i}\n" for i in range(GET_DRAFTS)))
        base_submit_file = d.WORK / f"{kind}-baseline-submit.txt"
        base_submit_file.write_text("".join(f"/items/item-{i}/submit x\n"
                                            for i in range(GET_DRAFTS, base_drafts)))
        runs = {k: [] for k in ("base_get", "svc_get", "base_insert", "svc_submit", "base_submit")}
        for rep in range(args.repeats):
            runs["base_get"].append(d.wrk_measuring(base, scripts["get"], 32, args.seconds, load_core,
                                                    {"LOAD_FILE": str(base_get_file)}))
            runs["svc_get"].append(d.wrk_measuring(svc, scripts["get"], 32, args.seconds, load_core,
                                                   {"LOAD_FILE": str(seeded["get_file"])}))
            items_before = base_db.scalar("SELECT count(*) FROM baseline_items")
            insert = d.wrk_measuring(base, scripts["insert"], 32, args.seconds, load_core)
            time.sleep(1)
            inserted = base_db.scalar("SELECT count(*) FROM baseline_items") - items_before
            count_acknowledged_only(insert)
            # The yardstick must be doing its work: every acknowledged insert is a new row.
            if insert.non_2xx or inserted < insert.requests - insert.non_2xx:
                d.log(f"  baseline insert run {rep}: {insert.non_2xx} non-2xx, "
                      f"{insert.requests - insert.non_2xx} acknowledged, {inserted} rows inserted")
            runs["base_insert"].append(insert)
            reset_drafts(db)
            submit = d.wrk_measuring(svc, scripts["submit"], 32, args.seconds, load_core,
                                     {"LOAD_FILE": str(seeded["submit_file"])})
            # Submits wrk gave up on at the end may still commit: let them land before counting.
            time.sleep(1)
            submitted = db.scalar("SELECT count(*) FROM applications WHERE status = 'submitted'")
            queued = db.scalar("SELECT count(*) FROM outbox")
            count_acknowledged_only(submit)
            if submit.non_2xx or submitted != queued:
                d.log(f"  submit run {rep}: {submit.non_2xx} non-2xx (drafts: {seeded['drafts']}), "
                      f"{submitted} submitted, {queued} emails queued")
            runs["svc_submit"].append(submit)
            reset_baseline_drafts(base_db)
            same = d.wrk_measuring(base, scripts["submit"], 32, args.seconds, load_core,
                                   {"LOAD_FILE": str(base_submit_file)})
            count_acknowledged_only(same)
            if same.non_2xx:
                d.log(f"  baseline submit run {rep}: {same.non_2xx} non-2xx")
            runs["base_submit"].append(same)
            under_load = svc.memory_kb()
            d.log(f"  repeat {rep + 1}: " + ", ".join(f"{k} {v[-1].rps:.0f}/s p99 {v[-1].latency_ms.get('99')}ms "
                                                       f"cpu {v[-1].cpu_us:.0f}us"
                                                       for k, v in runs.items()))
        return {"runs": runs, "idle": idle, "load": under_load, "drafts": seeded["drafts"]}
    finally:
        d.stop_all()
        d._started.clear()
        db.drop()
        base_db.drop()


def report(results: dict) -> None:
    print()
    print("| backend | measure | baseline | coproduce | ratio | coproduce p99 | baseline p99 | target "
          "| server CPU per request: baseline, coproduce (baseline ÷ coproduce) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, r in results.items():
        runs = r["runs"]
        for label, b, s, target in (("GET by id", "base_get", "svc_get", 0.8),
                                    ("write (insert / submit)", "base_insert", "svc_submit", 0.6),
                                    ("same writes (submit / submit)", "base_submit", "svc_submit", None)):
            base_rps = d.median([x.rps for x in runs[b]])
            svc_rps = d.median([x.rps for x in runs[s]])
            ratios = [sv.rps / bv.rps for sv, bv in zip(runs[s], runs[b])]
            ratio = d.median(ratios)
            p99s = d.median([x.latency_ms.get("99", float("nan")) for x in runs[s]])
            bp99 = d.median([x.latency_ms.get("99", float("nan")) for x in runs[b]])
            base_cpu = d.median([x.cpu_us for x in runs[b]])
            svc_cpu = d.median([x.cpu_us for x in runs[s]])
            ok = target is not None and ratio >= target and (label != "GET by id" or p99s < 25)
            verdict = ("no target" if target is None else
                       f"≥ {target}×{' and p99 < 25 ms' if label == 'GET by id' else ''}: {'met' if ok else 'NOT met'}")
            print(f"| {kind} | {label} | {base_rps:.0f}/s | {svc_rps:.0f}/s | {ratio:.2f}× "
                  f"({', '.join(f'{x:.2f}' for x in ratios)}) | {p99s:.1f} ms | {bp99:.1f} ms | "
                  f"{verdict} | "
                  f"{base_cpu:.0f} µs, {svc_cpu:.0f} µs ({base_cpu / svc_cpu:.2f}×) |")
    print()
    print("| backend | VmRSS idle | VmHWM idle | VmRSS under load | VmHWM after load |")
    print("|---|---|---|---|---|")
    for kind, r in results.items():
        mb = lambda kb: f"{kb / 1024:.1f} MiB"  # noqa: E731
        print(f"| {kind} | {mb(r['idle']['VmRSS'])} | {mb(r['idle']['VmHWM'])} | "
              f"{mb(r['load']['VmRSS'])} | {mb(r['load']['VmHWM'])} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--coproducers", type=int, default=100_000)
    parser.add_argument("--applicants", type=int, default=30_000)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        d.build_release()
    server_core, load_core = d.cores()
    results = {}
    try:
        for kind in args.backends.split(","):
            results[kind] = run_backend(kind, args, server_core, load_core)
    finally:
        d.stop_everything()
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
