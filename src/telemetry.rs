//! Structured logs via tracing. Spans carry the request id; fields never carry PII.
//!
//! Lines are gathered in memory and written to standard output together, every
//! [`FLUSH_EVERY`], by one thread: a write(2) per request line cost about a quarter of a small
//! request's time (docs/PERFORMANCE.md). Keep the [`LogGuard`] alive: dropping it, or a panic,
//! writes out what is still held.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::settings::{LogFormat, LogSettings, SettingsError};

/// How long a line may wait in memory before it is written out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// Past this many bytes held, the line that crosses it writes everything out itself, so a flood
/// of logs is slowed down to the speed of the output instead of filling memory.
const HIGH_WATER_BYTES: usize = 256 * 1024;

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `log.level`.
pub fn init(log: &LogSettings) -> Result<LogGuard, SettingsError> {
    let filter =
        match std::env::var("RUST_LOG") {
            Ok(directives) => EnvFilter::try_new(&directives)
                .map_err(|e| SettingsError(format!("RUST_LOG: {e}")))?,
            Err(_) => EnvFilter::try_new(&log.level)
                .map_err(|e| SettingsError(format!("log.level: {e}")))?,
        };
    let writer = BatchedWriter::new(Box::new(io::stdout()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(io::stdout().is_terminal())
        .with_writer(writer.clone());
    let installed = match log.format {
        // The request's own span is enough; the span list would repeat the same fields.
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    installed.map_err(|e| SettingsError(format!("log: {e}")))?;
    let on_panic = writer.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        on_panic.flush();
        previous(info);
    }));
    Ok(writer.start_flushing())
}

/// Log output held in memory and written out by a background thread (or by the caller once
/// [`HIGH_WATER_BYTES`] are held).
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

struct Shared {
    held: Mutex<Vec<u8>>,
    out: Mutex<Box<dyn Write + Send>>,
    stopping: AtomicBool,
    wake: Condvar,
}

impl BatchedWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            shared: Arc::new(Shared {
                held: Mutex::new(Vec::with_capacity(16 * 1024)),
                out: Mutex::new(out),
                stopping: AtomicBool::new(false),
                wake: Condvar::new(),
            }),
        }
    }

    /// Starts the thread that writes out what is held every [`FLUSH_EVERY`].
    pub fn start_flushing(self) -> LogGuard {
        let shared = Arc::clone(&self.shared);
        let flusher = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let mut idle = shared.held.lock().unwrap_or_else(PoisonError::into_inner);
                while !shared.stopping.load(Ordering::Acquire) {
                    idle = shared
                        .wake
                        .wait_timeout(idle, FLUSH_EVERY)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    drop(idle);
                    shared.flush();
                    idle = shared.held.lock().unwrap_or_else(PoisonError::into_inner);
                }
            })
            .ok();
        LogGuard {
            shared: self.shared,
            flusher,
        }
    }

    /// Writes out everything held now.
    pub fn flush(&self) {
        self.shared.flush();
    }
}

impl Shared {
    fn flush(&self) {
        // Taken under the output's lock, so batches reach the output in the order they were held.
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            if held.is_empty() {
                return;
            }
            std::mem::replace(&mut *held, Vec::with_capacity(16 * 1024))
        };
        // Nowhere to report a failing log output; the lines are dropped, the service goes on.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
    }
}

impl Write for &BatchedWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let full = {
            let mut held = self
                .shared
                .held
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            held.extend_from_slice(bytes);
            held.len() >= HIGH_WATER_BYTES
        };
        if full {
            self.shared.flush();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = &'a BatchedWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Writes out what is held when dropped (at the end of `main`), and stops the writer thread.
pub struct LogGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        self.shared.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
                .into_owned()
        }
    }

    fn log_line(writer: &BatchedWriter, line: &str) {
        let mut handle = writer.make_writer();
        let _ = handle.write_all(line.as_bytes());
    }

    #[test]
    fn lines_are_held_until_flushed_then_written_in_order() {
        let out = Captured::default();
        let writer = BatchedWriter::new(Box::new(out.clone()));
        log_line(&writer, "one\n");
        log_line(&writer, "two\n");
        assert_eq!(out.text(), "");
        writer.flush();
        assert_eq!(out.text(), "one\ntwo\n");
    }

    #[test]
    fn the_writer_thread_writes_lines_out_within_moments() {
        let out = Captured::default();
        let writer = BatchedWriter::new(Box::new(out.clone()));
        let _guard = writer.clone().start_flushing();
        log_line(&writer, "soon\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out.text().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(FLUSH_EVERY);
        }
        assert_eq!(out.text(), "soon\n");
    }

    #[test]
    fn dropping_the_guard_writes_out_what_is_held() {
        let out = Captured::default();
        let writer = BatchedWriter::new(Box::new(out.clone()));
        let guard = writer.clone().start_flushing();
        log_line(&writer, "last words\n");
        drop(guard);
        assert_eq!(out.text(), "last words\n");
    }

    #[test]
    fn a_flood_of_lines_is_written_out_without_waiting_for_the_thread() {
        let out = Captured::default();
        let writer = BatchedWriter::new(Box::new(out.clone()));
        let line = "x".repeat(1023) + "\n";
        for _ in 0..(HIGH_WATER_BYTES / line.len() + 1) {
            log_line(&writer, &line);
        }
        assert!(out.text().len() >= HIGH_WATER_BYTES);
    }
}
