//! SQLite's writers in this process, committed together (group commit).
//!
//! SQLite lets one writer in at a time, and each commit writes every page it changed to the WAL
//! (with a checksum each, and an fsync at every checkpoint). Units of work that queue while
//! another is running go into one transaction, each in its own savepoint, and commit once: the
//! pages they share (an index's leaf, the last page of the outbox) are written once per batch
//! instead of once per unit. A unit that fails rolls back to its savepoint and leaves the others
//! alone. No unit is answered before its batch has committed, so nothing is acknowledged that is
//! not stored; if the commit fails, every unit in the batch gets that failure.
//!
//! Whoever finds nobody writing leads: it runs batches until its own unit has run, then hands the
//! lead to the oldest unit still waiting. So a caller waits only for the batches ahead of it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use diesel::connection::{Connection, TransactionManager};

use super::pool::{DbConn, DbPool, begin_write, write_transaction};
use crate::error::AppError;
use crate::middleware::{carrying_request_id, request_id_to_carry};

/// Units in one transaction at most: bounds how long the last of them waits for the first.
const MAX_BATCH: usize = 64;

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
/// work in a savepoint and returns what to answer once the batch's commit is known.
struct Unit {
    run: Run,
    wake: mpsc::Sender<Signal>,
}

type Run = Box<dyn FnOnce(Result<&mut DbConn, &Failure>) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Result<(), &Failure>) + Send>;

enum Signal {
    /// Your unit has run and its batch is settled: take your answer.
    Done,
    /// Your unit is first in the queue and nobody is writing: lead.
    Lead,
}

/// Why a batch could not run or commit; every unit in it is told.
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
    /// Runs `work` in the next batch on a connection from `pool`, blocking until that batch has
    /// committed (or failed). Call from a blocking thread.
    pub fn run<T, F>(&self, pool: &DbPool, work: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let answer: Arc<Mutex<Option<Result<T, AppError>>>> = Arc::default();
        let slot = Arc::clone(&answer);
        let request_id = request_id_to_carry();
        let (wake, woken) = mpsc::channel();
        let unit = Unit {
            run: Box::new(move |conn| {
                let result = match conn {
                    Ok(conn) => carrying_request_id(request_id, || write_transaction(conn, work)),
                    Err(failure) => Err(failure.to_error()),
                };
                Box::new(move |committed| {
                    let result = match (result, committed) {
                        (Ok(_), Err(failure)) => Err(failure.to_error()),
                        (result, _) => result,
                    };
                    *lock(&slot) = Some(result);
                })
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
        loop {
            let batch: Vec<Unit> = {
                let mut queue = lock(&self.queue);
                if queue.waiting.is_empty() {
                    queue.leading = false;
                    return;
                }
                let size = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..size).collect()
            };
            run_batch(pool, batch);
            if own_unit_done() {
                let mut queue = lock(&self.queue);
                match queue.waiting.front() {
                    None => {
                        queue.leading = false;
                        return;
                    }
                    Some(next) if next.wake.send(Signal::Lead).is_ok() => return,
                    Some(_) => {}
                }
            }
        }
    }
}

/// One transaction: each unit in its savepoint, one commit, then every unit told.
fn run_batch(pool: &DbPool, batch: Vec<Unit>) {
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(error) => {
            let failure = Failure::from_pool(error);
            return settle(batch, |unit| (unit.run)(Err(&failure)), Err(&failure));
        }
    };
    if let Err(error) = begin_write(&mut conn) {
        let failure = Failure::from_database(error);
        return settle(batch, |unit| (unit.run)(Err(&failure)), Err(&failure));
    }
    let mut answers = Vec::with_capacity(batch.len());
    let mut wakes = Vec::with_capacity(batch.len());
    let mut broken = None;
    for unit in batch {
        wakes.push(unit.wake);
        let run = unit.run;
        match broken {
            Some(ref failure) => answers.push(run(Err(failure))),
            None => match catch_unwind(AssertUnwindSafe(|| run(Ok(&mut conn)))) {
                Ok(answer) => answers.push(answer),
                // Its answer is lost with it (the caller gets a 500); undo its savepoint.
                Err(_) => broken = close_abandoned_savepoint(&mut conn),
            },
        }
    }
    let committed = match broken {
        Some(failure) => Err(rollback(&mut conn, failure)),
        None => <DbConn as Connection>::TransactionManager::commit_transaction(&mut conn).map_err(
            |error| {
                tracing::error!(error = %error, "a batch of writes failed to commit");
                rollback(&mut conn, Failure::from_database(error))
            },
        ),
    };
    for answer in answers {
        answer(committed.as_ref().map(|_| ()));
    }
    for wake in wakes {
        // A caller that is gone has nobody to answer.
        let _ = wake.send(Signal::Done);
    }
}

/// Answers every unit of a batch that never ran, with `committed`, and wakes its caller.
fn settle(batch: Vec<Unit>, run: impl Fn(Unit) -> Answer, committed: Result<(), &Failure>) {
    for unit in batch {
        let wake = unit.wake.clone();
        run(unit)(committed);
        let _ = wake.send(Signal::Done);
    }
}

/// After a unit panicked inside its savepoint: rolls the savepoint back so the batch goes on.
/// Returns why the batch cannot go on, if that failed.
fn close_abandoned_savepoint(conn: &mut DbConn) -> Option<Failure> {
    while transaction_depth(conn)? > 1 {
        if let Err(error) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
            return Some(Failure::from_database(error));
        }
    }
    None
}

/// Rolls the whole batch back; `failure` is what its units are told.
fn rollback(conn: &mut DbConn, failure: Failure) -> Failure {
    while transaction_depth(conn).is_some() {
        if let Err(error) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
            // The connection is broken: the pool discards it.
            tracing::error!(error = %error, "rollback failed");
            break;
        }
    }
    failure
}

/// How many transactions and savepoints are open (`None`: none, or unknown).
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

    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};

    use super::*;
    use crate::db::Database;
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
            .batch_execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
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
    fn committed_notes(fixture: &Fixture) -> Vec<String> {
        let mut notes: Vec<String> = diesel::sql_query("SELECT text FROM notes")
            .load::<Note>(&mut *fixture.db.pool().get().unwrap())
            .unwrap()
            .into_iter()
            .map(|note| note.text)
            .collect();
        notes.sort();
        notes
    }

    /// Runs one unit per text on its own thread, all at once; their answers in the same order.
    fn write_concurrently(
        fixture: &Fixture,
        texts: Vec<String>,
        work: fn(&mut DbConn, &str) -> Result<String, AppError>,
    ) -> Vec<Result<String, AppError>> {
        let threads: Vec<_> = texts
            .into_iter()
            .map(|text| {
                let (writers, pool) = (fixture.writers.clone(), fixture.db.pool().clone());
                thread::spawn(move || writers.run(&pool, move |conn| work(conn, &text)))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    fn texts(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("note {i:02}")).collect()
    }

    #[test]
    fn every_writer_gets_its_own_answer_once_its_note_is_committed() {
        let fixture = fixture();
        let answers = write_concurrently(&fixture, texts(40), |conn, text| {
            add_note(conn, text)?;
            Ok(text.to_uppercase())
        });
        let expected: Vec<String> = texts(40).iter().map(|t| t.to_uppercase()).collect();
        assert_eq!(
            answers.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(committed_notes(&fixture), texts(40));
    }

    #[test]
    fn a_writer_that_fails_undoes_only_its_own_writes() {
        let fixture = fixture();
        let answers = write_concurrently(&fixture, texts(40), |conn, text| {
            add_note(conn, text)?;
            if text.ends_with(['1', '3', '5', '7', '9']) {
                return Err(AppError::conflict("odd", "odd notes are refused"));
            }
            Ok(text.to_string())
        });
        for (text, answer) in texts(40).iter().zip(&answers) {
            let odd = text.ends_with(['1', '3', '5', '7', '9']);
            assert_eq!(answer.is_err(), odd, "{text}: {answer:?}");
        }
        let even: Vec<String> = texts(40).into_iter().step_by(2).collect();
        assert_eq!(committed_notes(&fixture), even);
    }

    #[test]
    fn a_writer_that_panics_is_answered_with_an_error_and_the_others_commit() {
        let fixture = fixture();
        let answers = write_concurrently(&fixture, texts(20), |conn, text| {
            add_note(conn, text)?;
            if text == "note 07" {
                panic!("a bug in one unit of work");
            }
            Ok(text.to_string())
        });
        assert!(
            matches!(answers[7], Err(AppError::Internal(_))),
            "{:?}",
            answers[7]
        );
        let others: Vec<String> = texts(20).into_iter().filter(|t| t != "note 07").collect();
        assert_eq!(committed_notes(&fixture), others);
    }

    #[test]
    fn writers_that_queue_behind_another_are_committed_together() {
        let fixture = fixture();
        // The first writer holds the lead until twenty more have queued behind it.
        let (release, released) = mpsc::channel::<()>();
        let first = {
            let (writers, pool) = (fixture.writers.clone(), fixture.db.pool().clone());
            thread::spawn(move || {
                writers.run(&pool, move |conn| {
                    released.recv().unwrap();
                    add_note(conn, "first")
                })
            })
        };
        wait_until(|| {
            let queue = lock(&fixture.writers.queue);
            queue.leading && queue.waiting.is_empty()
        });
        let queued = {
            let fixture = &fixture;
            thread::scope(|scope| {
                let handles: Vec<_> = texts(20)
                    .into_iter()
                    .map(|text| {
                        let (writers, pool) = (fixture.writers.clone(), fixture.db.pool().clone());
                        scope.spawn(move || writers.run(&pool, move |conn| add_note(conn, &text)))
                    })
                    .collect();
                wait_until(|| lock(&fixture.writers.queue).waiting.len() == 20);
                release.send(()).unwrap();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            })
        };
        first.join().unwrap().unwrap();
        assert!(queued.iter().all(Result::is_ok));
        assert_eq!(committed_notes(&fixture).len(), 21);
        // Two transactions (the first writer's, then one for the twenty) write a handful of
        // pages to the WAL; twenty-one transactions would write at least one each.
        let frames = wal_frames(&fixture);
        assert!(frames < 10, "{frames} WAL frames written");
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
