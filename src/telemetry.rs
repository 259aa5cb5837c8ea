//! Structured logs via tracing. Every line logged for a request carries its id
//! (`middleware::with_request_id`); fields never carry PII.
//!
//! Lines are gathered in memory and written to standard output together, every
//! [`FLUSH_EVERY`], by one thread: a write(2) per request line cost about a quarter of a small
//! request's time (docs/PERFORMANCE.md). Keep the [`LogGuard`] alive: dropping it, or a panic,
//! writes out what is still held.

use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::middleware::with_request_id;
use crate::settings::{LogFormat, LogSettings, SettingsError};

/// How long a line may wait in memory before it is written out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// Past this many bytes held, the line that crosses it writes everything out itself, so a flood
/// of logs is slowed down to the speed of the output instead of filling memory.
const HIGH_WATER_BYTES: usize = 256 * 1024;

/// Room a fresh batch starts with: a few dozen lines, without growing.
const BATCH_CAPACITY: usize = 16 * 1024;

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
        .with_writer(writer.clone());
    let installed = match log.format {
        LogFormat::Json => builder.event_format(JsonLines).try_init(),
        LogFormat::Pretty => builder
            .event_format(WithRequestId(
                tracing_subscriber::fmt::format()
                    .with_target(false)
                    .with_ansi(io::stdout().is_terminal()),
            ))
            .try_init(),
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

/// One JSON object a line, shaped as tracing-subscriber's JSON format (`timestamp`, `level`,
/// `fields` in the order they were logged, and for a request's lines a `span` named `request`
/// with its `request_id`), written straight out: that format builds a map of values for every
/// event and parses a span's fields back from text, which cost a tenth of a small request
/// (docs/PERFORMANCE.md).
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(event.metadata().level().as_str())?;
        writer.write_str("\",\"fields\":{")?;
        let mut fields = JsonFieldWriter {
            out: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('}')?;
        with_request_id(|id| match id {
            Some(id) => {
                writer.write_str(",\"span\":{\"request_id\":")?;
                write_json_string(&mut writer, id)?;
                writer.write_str(",\"name\":\"request\"}")
            }
            None => Ok(()),
        })?;
        writer.write_str("}\n")
    }
}

/// A human-readable line (`log.format = "pretty"`) that starts with its request's id.
pub struct WithRequestId<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_request_id(|id| match id {
            Some(id) => write!(writer, "request {id}: "),
            None => Ok(()),
        })?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Writes an event's fields as the members of a JSON object.
struct JsonFieldWriter<'w, 'a> {
    out: &'w mut Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl JsonFieldWriter<'_, '_> {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        let name = field.name();
        // As tracing-subscriber: fields the `log` bridge adds are left out, raw names unraw'd.
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let separator = if std::mem::take(&mut self.first) {
            ""
        } else {
            ","
        };
        self.result = self
            .out
            .write_str(separator)
            .and_then(|()| write_json_string(self.out, name))
            .and_then(|()| self.out.write_char(':'))
            .and_then(|()| value(self.out));
    }
}

impl Visit for JsonFieldWriter<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_json_string(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(JsonEscaped(&mut *out), "{value:?}")?;
            out.write_char('"')
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.member(field, |out| write!(out, "{value}"));
        } else {
            self.member(field, |out| out.write_str("null"));
        }
    }
}

fn write_json_string(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    JsonEscaped(&mut *out).write_str(text)?;
    out.write_char('"')
}

/// Escapes what is written through it as the inside of a JSON string.
struct JsonEscaped<W>(W);

impl<W: fmt::Write> fmt::Write for JsonEscaped<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut clean_from = 0;
        // Only ASCII bytes are escaped, so every cut falls between characters.
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[clean_from..at])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            clean_from = at + 1;
        }
        self.0.write_str(&text[clean_from..])
    }
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
                held: Mutex::new(Vec::with_capacity(BATCH_CAPACITY)),
                out: Mutex::new(out),
                stopping: AtomicBool::new(false),
                wake: Condvar::new(),
            }),
        }
    }

    /// Starts the thread that writes out what is held every [`FLUSH_EVERY`]. Should the thread
    /// not start, every line is written out as it comes.
    pub fn start_flushing(self) -> LogGuard {
        let shared = Arc::clone(&self.shared);
        let flusher = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let mut held = shared.held.lock().unwrap_or_else(PoisonError::into_inner);
                while !shared.stopping.load(Ordering::Acquire) {
                    held = shared
                        .wake
                        .wait_timeout(held, FLUSH_EVERY)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    drop(held);
                    shared.flush();
                    held = shared.held.lock().unwrap_or_else(PoisonError::into_inner);
                }
            })
            .ok();
        if flusher.is_none() {
            self.shared.stopping.store(true, Ordering::Release);
        }
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
            std::mem::replace(&mut *held, Vec::with_capacity(BATCH_CAPACITY))
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
            // Once the writer thread has stopped (or never started), nobody else will.
            held.len() >= HIGH_WATER_BYTES || self.shared.stopping.load(Ordering::Acquire)
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

/// Writes out what is held when dropped (at the end of `main`), and stops the writer thread;
/// lines logged after that are written out as they come.
pub struct LogGuard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        {
            // Under the lock the thread waits on, so the wake-up cannot fall between its check
            // of `stopping` and its wait.
            let _held = self
                .shared
                .held
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.shared.stopping.store(true, Ordering::Release);
            self.shared.wake.notify_all();
        }
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
        self.shared.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::carrying_request_id;

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
    fn a_line_logged_after_the_guard_is_dropped_is_written_at_once() {
        let out = Captured::default();
        let writer = BatchedWriter::new(Box::new(out.clone()));
        drop(writer.clone().start_flushing());
        log_line(&writer, "during shutdown\n");
        assert_eq!(out.text(), "during shutdown\n");
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

    /// The lines `JsonLines` writes for what `emit` logs, parsed.
    fn json_lines_of(emit: impl FnOnce()) -> Vec<serde_json::Value> {
        let out = Captured::default();
        let writer = BatchedWriter::new(Box::new(out.clone()));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer.clone())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        writer.flush();
        out.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn a_json_line_holds_timestamp_level_fields_and_the_request_span() {
        let lines = json_lines_of(|| {
            carrying_request_id(Some("0192-abc".into()), || {
                tracing::info!(
                    method = "GET",
                    status = 200_u16,
                    latency_ms = 1.5,
                    done = true,
                    "request finished"
                );
            });
        });
        let [line] = lines.as_slice() else {
            panic!("one line: {lines:?}");
        };
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(line["level"], "INFO");
        assert_eq!(
            line["fields"],
            serde_json::json!({"message": "request finished", "method": "GET", "status": 200, "latency_ms": 1.5, "done": true})
        );
        assert_eq!(
            line["span"],
            serde_json::json!({"request_id": "0192-abc", "name": "request"})
        );
    }

    #[test]
    fn a_pretty_line_starts_with_its_request_id() {
        let out = Captured::default();
        let writer = BatchedWriter::new(Box::new(out.clone()));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer.clone())
            .event_format(WithRequestId(
                tracing_subscriber::fmt::format().with_ansi(false),
            ))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            carrying_request_id(Some("0192-abc".into()), || tracing::info!("inside"));
            tracing::info!("outside");
        });
        writer.flush();
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("request 0192-abc: "), "{text}");
        assert!(lines[0].ends_with("inside"), "{text}");
        assert!(!lines[1].contains("request"), "{text}");
    }

    #[test]
    fn text_in_a_json_line_is_escaped() {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{7} and ünïcode";
        let lines = json_lines_of(|| {
            tracing::warn!(detail = awkward, "said {awkward:?}");
        });
        assert_eq!(lines[0]["fields"]["detail"], awkward);
        assert_eq!(lines[0]["fields"]["message"], format!("said {awkward:?}"));
        assert!(lines[0].get("span").is_none());
    }

    #[test]
    fn a_number_that_is_not_finite_is_null() {
        let lines = json_lines_of(|| tracing::info!(ratio = f64::NAN, "measured"));
        assert!(lines[0]["fields"]["ratio"].is_null());
    }
}
