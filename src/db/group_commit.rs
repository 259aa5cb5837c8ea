//! SQLite's writers in this process, committed together (group commit).
//!
//! SQLite lets one writer in at a time, and each commit writes every page it changed to the WAL
//! (with a checksum each, and an fsync at every checkpoint). Units of work that queue while
//! another is running go into one transaction, each in its own savepoint, and commit once: the
//! pages they share (an index's leaf, the last page of the outbox) are written once per batch
//! instead of once per unit. A unit that fails (or panics) rolls back to its savepoint and leaves
//! the others alone. No unit is answered before its batch has committed, so nothing is
//! acknowledged that is not stored; if the batch cannot commit, no unit is told it succeeded.
//!
//! Whoever finds nobody writing leads: it runs batches until its own unit has run, then hands the
//! lead to the oldest unit still waiting. A batch takes units as they arrive, up to
//! [`MAX_BATCH`] of them or [`BATCH_TIME`], so a caller waits only for the batches ahead of it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::{Connection, SimpleConnection, TransactionManager};

use super::pool::{DbConn, DbPool, begin_write};
use crate::auth::verified_tokens;
use crate::error::AppError;
use crate::middleware::carrying_request_id;

/// Units in one transaction at most.
const MAX_BATCH: usize = 64;
/// No unit joins a batch that has run this long: bounds how long the first waits for the last,
/// and how long other processes wait for the write lock.
const BATCH_TIME: Duration = Duration::from_millis(20);

#[derive(Default)]
pub struct GroupCommit {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Unit>,
    leading: bool,
}

/// One caller's unit of work. `run` gets the batch's connection (or why there is none), runs the
/// work in its savepoint, and returns what to answer once the batch's outcome is known, with why
/// the batch cannot go on if the unit left it unusable.
struct Unit {
    run: Run,
    wake: mpsc::Sender<Signal>,
}

type Run = Box<dyn FnOnce(Result<&mut DbConn, &Failure>) -> (Answer, Option<Failure>) + Send>;
type Answer = Box<dyn FnOnce(Result<(), &Failure>) + Send>;

enum Signal {
    /// Your unit has run and its batch is settled: take your answer.
    Done,
    /// Your unit is first in the queue and nobody is writing: lead.
    Lead,
}

/// Why a batch could not run or commit; every unit in it that has no error of its own is told.
#[derive(Debug)]
enum Failure {
    Busy,
    Internal(String),
}

impl Failure {
    fn from_database(error: diesel::result::Error) -> Self {
        match AppError::from(error) {
            AppError::DatabaseBusy => Self::Busy,
            other => Self::Internal(other.to_string()),
        }
    }

    fn from_pool(error: diesel::r2d2::PoolError) -> Self {
        // Converting logs it; a pool fails only by timing out.
        let _ = AppError::from(error);
        Self::Busy
    }

    fn to_error(&self) -> AppError {
        match self {
            Self::Busy => AppError::DatabaseBusy,
            Self::Internal(message) => AppError::Internal(anyhow::anyhow!("{message}")),
        }
    }
}

impl GroupCommit {
    /// Runs `work` in the next batch on a connection from `pool`, its logs carrying
    /// `request_id`, and blocks until that batch has committed (or failed). Call from a blocking
    /// thread.
    pub fn run<T, F>(
        &self,
        pool: &DbPool,
        request_id: Option<Arc<str>>,
        work: F,
    ) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let answer: Arc<Mutex<Option<Result<T, AppError>>>> = Arc::default();
        let slot = Arc::clone(&answer);
        let (wake, woken) = mpsc::channel();
        let unit = Unit {
            run: Box::new(move |conn| {
                let (result, broken) = match conn {
                    Ok(conn) => carrying_request_id(request_id, || in_savepoint(conn, work)),
                    Err(failure) => (Err(failure.to_error()), None),
                };
                let answer: Answer = Box::new(move |committed| {
                    let result = match (result, committed) {
                        (Ok(_), Err(failure)) => Err(failure.to_error()),
                        (result, _) => result,
                    };
                    *lock(&slot) = Some(result);
                });
                (answer, broken)
            }),
            wake,
        };
        let lead_now = {
            let mut queue = lock(&self.queue);
            queue.waiting.push_back(unit);
            !std::mem::replace(&mut queue.leading, true)
        };
        let lead = lead_now
            || match woken.recv() {
                Ok(Signal::Lead) => true,
                Ok(Signal::Done) | Err(_) => false,
            };
        if lead {
            self.lead(pool, || lock(&answer).is_some());
        }
        lock(&answer).take().unwrap_or_else(|| {
            Err(AppError::Internal(anyhow::anyhow!(
                "a unit of work stopped without an answer"
            )))
        })
    }

    /// Runs batches until `own_unit_done`, then hands the lead on (or stops leading when nobody
    /// waits). Leads on if the caller at the front is gone, so no unit is stranded.
    fn lead(&self, pool: &DbPool, own_unit_done: impl Fn() -> bool) {
        let _hand_on_if_this_panics = HandOnIfPanicking(self);
        loop {
            let Some(first) = self.next_or_stop_leading() else {
                return;
            };
            self.run_batch(pool, first);
            if own_unit_done() && self.hand_on() {
                return;
            }
        }
    }

    fn next_or_stop_leading(&self) -> Option<Unit> {
        let mut queue = lock(&self.queue);
        let next = queue.waiting.pop_front();
        queue.leading = next.is_some();
        next
    }

    fn next(&self) -> Option<Unit> {
        lock(&self.queue).waiting.pop_front()
    }

    /// Gives the lead to the oldest waiting unit's caller, or stops leading if none waits.
    /// False if that caller is gone (the leader then leads on).
    fn hand_on(&self) -> bool {
        let mut queue = lock(&self.queue);
        match queue.waiting.front() {
            None => {
                queue.leading = false;
                true
            }
            Some(next) => next.wake.send(Signal::Lead).is_ok(),
        }
    }

    /// One transaction: `first`, then units as they arrive (up to [`MAX_BATCH`] or
    /// [`BATCH_TIME`]), each in its savepoint; one commit; then every unit told.
    fn run_batch(&self, pool: &DbPool, first: Unit) {
        let revocations = verified_tokens::revocation_epoch();
        let mut conn = match pool.get() {
            Ok(conn) => conn,
            Err(error) => return self.fail_with_queue(first, &Failure::from_pool(error)),
        };
        if let Err(error) = begin_write(&mut conn) {
            return self.fail_with_queue(first, &Failure::from_database(error));
        }
        // From holding the write lock: a wait for another process does not shorten the batch.
        let started = Instant::now();
        let mut answers = Vec::new();
        let mut wakes = Vec::new();
        let mut broken = None;
        let mut unit = Some(first);
        while let Some(Unit { run, wake }) = unit.take() {
            let (answer, unusable) = run(Ok(&mut conn));
            answers.push(answer);
            wakes.push(wake);
            if unusable.is_some() {
                broken = unusable;
                break;
            }
            if answers.len() < MAX_BATCH && started.elapsed() < BATCH_TIME {
                unit = self.next();
            }
        }
        let committed = match broken {
            Some(failure) => Err(rollback(&mut conn, failure)),
            None => <DbConn as Connection>::TransactionManager::commit_transaction(&mut conn)
                .map_err(|error| rollback(&mut conn, Failure::from_database(error))),
        };
        if let Err(failure) = &committed {
            tracing::error!(failure = ?failure, units = answers.len(), "a batch of writes did not commit");
        }
        verified_tokens::note_commit(revocations);
        for answer in answers {
            answer(committed.as_ref().map(|_| ()));
        }
        for wake in wakes {
            // A caller that is gone has nobody to answer.
            let _ = wake.send(Signal::Done);
        }
    }

    /// No batch could start: `first` and the units waiting behind it (a batch's worth) are told
    /// why, rather than each waiting for the same failure in turn.
    fn fail_with_queue(&self, first: Unit, failure: &Failure) {
        let mut units = vec![first];
        while units.len() < MAX_BATCH {
            match self.next() {
                Some(unit) => units.push(unit),
                None => break,
            }
        }
        for Unit { run, wake } in units {
            let (answer, _) = run(Err(failure));
            answer(Err(failure));
            let _ = wake.send(Signal::Done);
        }
    }
}

/// Keeps SQLite writable if a leader panics outside any unit: the lead passes on.
struct HandOnIfPanicking<'a>(&'a GroupCommit);

impl Drop for HandOnIfPanicking<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            while !self.0.hand_on() {
                // That caller is gone: its unit will never be asked for; drop it.
                lock(&self.0.queue).waiting.pop_front();
            }
        }
    }
}

const SAVEPOINT: &str = "SAVEPOINT group_commit_unit";
const RELEASE: &str = "RELEASE group_commit_unit";
const UNDO: &str = "ROLLBACK TO group_commit_unit; RELEASE group_commit_unit";

/// Runs `work` in its own savepoint of the batch's transaction: released if it succeeds, rolled
/// back if it fails or panics. Also says why the batch cannot go on, if the unit left the
/// transaction unusable (SQLite rolls a whole transaction back on some errors, a disk full say).
fn in_savepoint<T>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, AppError>,
) -> (Result<T, AppError>, Option<Failure>) {
    if let Err(error) = conn.batch_execute(SAVEPOINT) {
        let failure = Failure::from_database(error);
        return (Err(failure.to_error()), Some(failure));
    }
    let mut result = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
        Err(AppError::Internal(anyhow::anyhow!(
            "a unit of work panicked"
        )))
    });
    if result.is_ok() && transaction_depth(conn).is_some_and(|depth| depth > 1) {
        // Closing them below undoes what they hold: not a success.
        result = Err(AppError::Internal(anyhow::anyhow!(
            "a unit of work left a transaction open"
        )));
    }
    let ended = close_nested_savepoints(conn)
        .and_then(|()| {
            let end = if result.is_ok() { RELEASE } else { UNDO };
            conn.batch_execute(end).map_err(Failure::from_database)
        })
        .and_then(|()| match transaction_depth(conn) {
            Some(1) => Ok(()),
            _ => Err(Failure::Internal(
                "the batch's transaction ended early".into(),
            )),
        });
    match ended {
        Ok(()) => (result, None),
        // The unit's own error says most about what went wrong; without one, the failure.
        Err(failure) => (result.and_then(|_| Err(failure.to_error())), Some(failure)),
    }
}

/// Savepoints of diesel's that a unit left open (it panicked, or returned with them), rolled back.
fn close_nested_savepoints(conn: &mut DbConn) -> Result<(), Failure> {
    while transaction_depth(conn).is_some_and(|depth| depth > 1) {
        <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
            .map_err(Failure::from_database)?;
    }
    Ok(())
}

/// Rolls the whole batch back; `failure` is what its units are told.
fn rollback(conn: &mut DbConn, failure: Failure) -> Failure {
    while transaction_depth(conn).is_some() {
        if let Err(error) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
            // The connection is broken: the pool discards it.
            tracing::error!(error = %error, "rollback failed");
            return failure;
        }
    }
    // Diesel may have lost count of a transaction SQLite still holds (or already ended it: then
    // this fails, harmlessly). Either way the connection goes back to the pool without one.
    let _ = conn.batch_execute("ROLLBACK");
    failure
}

/// How many transactions and savepoints diesel has open (`None`: none, or it lost count).
fn transaction_depth(conn: &mut DbConn) -> Option<u32> {
    <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .flatten()
        .map(|depth| depth.get())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::thread;

    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};

    use super::*;
    use crate::db::Database;
    use crate::middleware::request_id_to_carry;
    use crate::settings::DatabaseSettings;

    struct Fixture {
        _folder: tempfile::TempDir,
        db: Database,
        writers: Arc<GroupCommit>,
    }

    fn fixture() -> Fixture {
        let folder = tempfile::tempdir().unwrap();
        let settings = DatabaseSettings {
            url: format!("sqlite://{}", folder.path().join("group.db").display()),
            run_migrations: false,
            ..DatabaseSettings::default()
        };
        let db = Database::connect(&settings).unwrap();
        db.pool()
            .get()
            .unwrap()
            .batch_execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)")
            .unwrap();
        Fixture {
            _folder: folder,
            db,
            writers: Arc::default(),
        }
    }

    fn add_note(conn: &mut DbConn, text: &str) -> Result<(), AppError> {
        diesel::sql_query("INSERT INTO notes (text) VALUES (?)")
            .bind::<Text, _>(text)
            .execute(conn)?;
        Ok(())
    }

    #[derive(QueryableByName)]
    struct Note {
        #[diesel(sql_type = Text)]
        text: String,
    }

    /// What another connection sees: only what was committed.
    fn committed_notes(pool: &DbPool) -> Vec<String> {
        let mut notes: Vec<String> = diesel::sql_query("SELECT text FROM notes")
            .load::<Note>(&mut *pool.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|note| note.text)
            .collect();
        notes.sort();
        notes
    }

    fn texts(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("note {i:02}")).collect()
    }

    fn is_odd(text: &str) -> bool {
        text.ends_with(['1', '3', '5', '7', '9'])
    }

    type Work = fn(&mut DbConn, &str) -> Result<String, AppError>;

    /// Holds the lead with one writer until a unit per text has queued behind it (each as the
    /// request named by its text), then lets them all run. Their answers, in the same order.
    fn queue_behind_a_writer(
        fixture: &Fixture,
        texts: Vec<String>,
        work: Work,
    ) -> Vec<Result<String, AppError>> {
        let (release, released) = mpsc::channel::<()>();
        let first = {
            let (writers, pool) = (fixture.writers.clone(), fixture.db.pool().clone());
            thread::spawn(move || {
                writers.run(&pool, None, move |conn| {
                    released.recv().unwrap();
                    // Past its time, this batch takes no one else: the others run together next.
                    thread::sleep(BATCH_TIME);
                    add_note(conn, "first")
                })
            })
        };
        wait_until(|| {
            let queue = lock(&fixture.writers.queue);
            queue.leading && queue.waiting.is_empty()
        });
        let count = texts.len();
        let answers = thread::scope(|scope| {
            let handles: Vec<_> = texts
                .into_iter()
                .map(|text| {
                    let (writers, pool) = (fixture.writers.clone(), fixture.db.pool().clone());
                    let request_id = Some(Arc::from(text.as_str()));
                    scope.spawn(move || {
                        writers.run(&pool, request_id, move |conn| work(conn, &text))
                    })
                })
                .collect();
            wait_until(|| lock(&fixture.writers.queue).waiting.len() == count);
            release.send(()).unwrap();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        first.join().unwrap().unwrap();
        answers
    }

    #[test]
    fn a_writer_is_answered_only_once_its_note_is_committed() {
        let fixture = fixture();
        let threads: Vec<_> = texts(40)
            .into_iter()
            .map(|text| {
                let (writers, pool) = (fixture.writers.clone(), fixture.db.pool().clone());
                thread::spawn(move || {
                    let answer = writers.run(&pool, None, {
                        let text = text.clone();
                        move |conn| add_note(conn, &text).map(|()| text.to_uppercase())
                    });
                    // Another connection sees the note the moment the writer has its answer.
                    let seen = committed_notes(&pool).contains(&text);
                    (answer.unwrap(), seen)
                })
            })
            .collect();
        let answers: Vec<(String, bool)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let expected: Vec<(String, bool)> =
            texts(40).iter().map(|t| (t.to_uppercase(), true)).collect();
        assert_eq!(answers, expected);
    }

    #[test]
    fn writers_that_queue_behind_another_are_committed_together() {
        let fixture = fixture();
        let answers = queue_behind_a_writer(&fixture, texts(20), |conn, text| {
            add_note(conn, text).map(|()| text.to_string())
        });
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(committed_notes(fixture.db.pool()).len(), 21);
        // Two transactions (the first writer's, then one for the twenty; three or four if a slow
        // machine splits them) write a handful of pages to the WAL; twenty-one would write 23.
        let frames = wal_frames(&fixture);
        assert!(frames < 15, "{frames} WAL frames written");
    }

    #[test]
    fn a_writer_that_fails_undoes_only_its_own_writes() {
        let fixture = fixture();
        let answers = queue_behind_a_writer(&fixture, texts(20), |conn, text| {
            add_note(conn, text)?;
            if is_odd(text) {
                return Err(AppError::conflict("odd", "odd notes are refused"));
            }
            Ok(text.to_string())
        });
        for (text, answer) in texts(20).iter().zip(&answers) {
            assert_eq!(answer.is_err(), is_odd(text), "{text}: {answer:?}");
        }
        let mut expected: Vec<String> = texts(20).into_iter().filter(|t| !is_odd(t)).collect();
        expected.insert(0, "first".into());
        assert_eq!(committed_notes(fixture.db.pool()), expected);
    }

    #[test]
    fn a_writer_that_panics_is_answered_with_an_error_and_the_others_commit() {
        let fixture = fixture();
        let answers = queue_behind_a_writer(&fixture, texts(20), |conn, text| {
            add_note(conn, text)?;
            if text == "note 07" {
                panic!("a bug in one unit of work");
            }
            Ok(text.to_string())
        });
        for (text, answer) in texts(20).iter().zip(&answers) {
            match text.as_str() {
                "note 07" => assert!(matches!(answer, Err(AppError::Internal(_))), "{answer:?}"),
                _ => assert_eq!(answer.as_ref().unwrap(), text),
            }
        }
        let mut expected: Vec<String> = texts(20).into_iter().filter(|t| t != "note 07").collect();
        expected.insert(0, "first".into());
        assert_eq!(committed_notes(fixture.db.pool()), expected);
    }

    #[test]
    fn when_sqlite_rolls_the_whole_batch_back_no_writer_is_told_it_succeeded() {
        let fixture = fixture();
        // Two writers insert the same note with OR ROLLBACK: whichever runs second makes SQLite
        // roll back its whole transaction, with what came before it in its batch.
        let clashing = |text: &str| text == "note 03" || text == "note 06";
        let answers = queue_behind_a_writer(&fixture, texts(10), |conn, text| {
            let note = if text == "note 03" || text == "note 06" {
                "clash"
            } else {
                text
            };
            diesel::sql_query("INSERT OR ROLLBACK INTO notes (text) VALUES (?)")
                .bind::<Text, _>(note)
                .execute(conn)?;
            Ok(text.to_string())
        });
        let committed = committed_notes(fixture.db.pool());
        for (text, answer) in texts(10).iter().zip(&answers) {
            if !clashing(text) {
                assert_eq!(
                    answer.is_ok(),
                    committed.contains(text),
                    "{text}: {answer:?}"
                );
            }
        }
        // The second to run fails; the first succeeds unless it shared that batch.
        let clashes_told_ok = (texts(10).iter().zip(&answers))
            .filter(|(text, answer)| clashing(text) && answer.is_ok())
            .count();
        assert!(clashes_told_ok <= 1, "{answers:?}");
        assert_eq!(
            clashes_told_ok == 1,
            committed.contains(&"clash".to_string())
        );
        // The next writer finds SQLite writable again.
        let pool = fixture.db.pool();
        let after = fixture
            .writers
            .run(pool, None, |conn| add_note(conn, "after"));
        assert!(
            after.is_ok() && committed_notes(pool).contains(&"after".to_string()),
            "{after:?}"
        );
    }

    #[test]
    fn each_writer_runs_as_its_own_request_whoever_leads() {
        let fixture = fixture();
        let answers = queue_behind_a_writer(&fixture, texts(10), |_, _| {
            Ok(request_id_to_carry()
                .map(|id| id.to_string())
                .unwrap_or_default())
        });
        let answers: Vec<String> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, texts(10));
    }

    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = BigInt)]
        log: i64,
    }

    fn wal_frames(fixture: &Fixture) -> i64 {
        diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .load::<Checkpoint>(&mut *fixture.db.pool().get().unwrap())
            .unwrap()[0]
            .log
    }

    fn wait_until(condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out");
            thread::sleep(Duration::from_millis(5));
        }
    }
}
