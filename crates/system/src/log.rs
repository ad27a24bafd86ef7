//! The server log: `tracing` events as lines, written by a background thread to stdout and/or
//! `<repo>/log` according to `log_enable`, `log_to_stdout` and `log_to_file`.
//!
//! A line is the UTC time to the millisecond, the level, the message and the event's fields:
//!
//! ```text
//! 2026-12-07 04:00:00.123 INFO connection open peer=127.0.0.1:5555 id=7
//! ```
//!
//! The other crates only emit events (`tracing::info!` and so on); this module decides where
//! they go. [`subscriber`] builds the whole pipeline and returns it, so that a test can run it
//! with `tracing::subscriber::with_default`; [`init`] installs it for the process (the first
//! call wins) and [`shutdown`] writes out what is still queued. Before [`init`], a thread that
//! holds [`to_stderr`] logs to stderr.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use amelie_common::{Error, Result};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Subscriber};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

use crate::config::Config;

/// Environment variable naming the most verbose level logged: `off`, `error`, `warn`,
/// `info` (the default), `debug` or `trace`.
pub const LEVEL_VAR: &str = "AMELIE_LOG";

/// The time of a log line: `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
#[derive(Clone, Copy, Debug, Default)]
pub struct UtcMillis;

impl UtcMillis {
    /// Writes `t` as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
    pub fn write(w: &mut impl fmt::Write, t: SystemTime) -> fmt::Result {
        let ts = jiff::Timestamp::try_from(t).map_err(|_| fmt::Error)?;
        let t = jiff::tz::Offset::UTC.to_datetime(ts);
        write!(
            w,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl FormatTime for UtcMillis {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        Self::write(w, SystemTime::now())
    }
}

/// The line format: time, level, message, then the fields as `name=value` (spans and the
/// event's target are left out).
#[derive(Clone, Copy, Debug, Default)]
pub struct LineFormat<T = UtcMillis>(pub T);

impl<S, N, T> FormatEvent<S, N> for LineFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        self.0.format_time(&mut w)?;
        write!(w, " {} ", event.metadata().level())?;
        ctx.format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// A layer that writes every event it sees as one line in [`LineFormat`] to `writer`.
pub fn lines<S, W, T>(
    writer: W,
    timer: T,
) -> tracing_subscriber::fmt::Layer<S, DefaultFields, LineFormat<T>, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
    T: FormatTime + 'static,
{
    tracing_subscriber::fmt::layer()
        .event_format(LineFormat(timer))
        .with_writer(writer)
}

/// Where the lines go: stdout and/or the log file. Written by the log thread only, which
/// flushes after each batch of lines it takes off its queue.
pub struct Output {
    stdout: Option<Box<dyn Write + Send>>,
    file: Option<BufWriter<File>>,
}

impl Output {
    /// What `config` asks for, or `None` when nothing is to be logged (`log_enable` off, or
    /// neither `log_to_stdout` nor `log_to_file`). The file is `<dir>/log`, appended to;
    /// `stdout` is what `log_to_stdout` writes to.
    pub fn open(
        config: &Config,
        dir: &Path,
        stdout: impl Write + Send + 'static,
    ) -> Result<Option<Output>> {
        if !config.log_enable || !(config.log_to_stdout || config.log_to_file) {
            return Ok(None);
        }
        let file = if config.log_to_file {
            let path = dir.join("log");
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(format!("log: '{}' open error ({e})", path.display())))?;
            Some(BufWriter::new(f))
        } else {
            None
        };
        let stdout = config
            .log_to_stdout
            .then(|| Box::new(stdout) as Box<dyn Write + Send>);
        Ok(Some(Output { stdout, file }))
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    /// Both targets get the line, even when one of them fails.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let out = self.stdout.as_mut().map_or(Ok(()), |w| w.write_all(buf));
        let file = self.file.as_mut().map_or(Ok(()), |w| w.write_all(buf));
        out.and(file)
    }

    fn flush(&mut self) -> io::Result<()> {
        let out = self.stdout.as_mut().map_or(Ok(()), |w| w.flush());
        let file = self.file.as_mut().map_or(Ok(()), |w| w.flush());
        out.and(file)
    }
}

/// The most verbose level logged, from the value of [`LEVEL_VAR`] (unset: `info`).
pub fn level(var: Option<&str>) -> Result<LevelFilter> {
    match var.map(str::trim) {
        None | Some("") => Ok(LevelFilter::INFO),
        Some(v) => v.parse().map_err(|_| {
            Error::syntax(format!(
                "log: {LEVEL_VAR} '{v}' is not a level (off, error, warn, info, debug, trace)"
            ))
        }),
    }
}

/// The log: lines in [`LineFormat`] handed to a background thread that writes them to
/// `output`, events more verbose than `level` dropped at their call site. `None` logs
/// nothing at all (the maximum level is then `OFF`, so an event costs a load and a compare).
///
/// Keep the guard as long as events may come: dropping it writes out what is queued and ends
/// the thread. The queue holds up to 128,000 lines; past that, lines are dropped rather than
/// making the request path wait for the disk.
pub fn subscriber(
    output: Option<Output>,
    level: LevelFilter,
) -> (impl Subscriber + Send + Sync + 'static, Option<WorkerGuard>) {
    let (writer, guard) = match output {
        Some(out) => {
            let (w, g) = NonBlockingBuilder::default().thread_name("log").finish(out);
            (Some(w), Some(g))
        }
        None => (None, None),
    };
    let level = if writer.is_some() {
        level
    } else {
        LevelFilter::OFF
    };
    let sub = Registry::default()
        .with(level)
        .with(writer.map(|w| lines(w, UtcMillis)));
    (sub, guard)
}

/// Installed by [`init`]; the guard of the log thread until [`shutdown`].
static INSTALLED: Mutex<Option<Option<WorkerGuard>>> = Mutex::new(None);

/// Configures the process's log from `config` (the log file is `<dir>/log`). Only the first
/// call has an effect, so that one process can run several servers.
pub fn init(config: &Config, dir: &Path) -> Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if installed.is_some() {
        return Ok(());
    }
    let level = level(std::env::var(LEVEL_VAR).ok().as_deref())?;
    let output = Output::open(config, dir, BufWriter::new(io::stdout()))?;
    let (sub, guard) = subscriber(output, level);
    // a subscriber installed by someone else (a test's) wins as well
    let guard = tracing::subscriber::set_global_default(sub)
        .is_ok()
        .then_some(guard)
        .flatten();
    *installed = Some(guard);
    Ok(())
}

/// Writes out every queued line and stops the log thread: the last thing the process does.
/// Events after it are lost.
pub fn shutdown() {
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(guard) = installed.as_mut() {
        drop(guard.take());
    }
}

/// Until the returned guard is dropped, the calling thread logs to stderr (`info` and up):
/// for what happens before [`init`].
pub fn to_stderr() -> tracing::subscriber::DefaultGuard {
    let sub = Registry::default()
        .with(LevelFilter::INFO)
        .with(lines(io::stderr, UtcMillis));
    tracing::subscriber::set_default(sub)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::tests::TempDir;
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    fn time(t: SystemTime) -> String {
        let mut s = String::new();
        UtcMillis::write(&mut s, t).unwrap();
        s
    }

    #[test]
    fn timestamps() {
        assert_eq!(time(UNIX_EPOCH), "1970-01-01 00:00:00.000");
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789);
        assert_eq!(time(t), "2000-02-29 12:34:56.789");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599) + Duration::from_micros(999_999);
        assert_eq!(time(t), "2024-12-31 23:59:59.999");
        let t = UNIX_EPOCH + Duration::from_millis(1_796_616_000_123);
        assert_eq!(time(t), "2026-12-07 04:00:00.123");
    }

    /// A buffer shared with the test, as stdout or as a `MakeWriter`.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    /// A fixed time, so that whole lines can be compared.
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("2026-12-07 04:00:00.123")
        }
    }

    #[test]
    fn line_format() {
        let buf = Buf::default();
        let sub = Registry::default().with(lines(buf.clone(), Fixed));
        tracing::subscriber::with_default(sub, || {
            let peer: std::net::SocketAddr = "127.0.0.1:5555".parse().unwrap();
            tracing::info!(peer = %peer, id = 7u64, "connection open");
            tracing::warn!(error = ?"disk \"full\"", "wal: write failed");
            tracing::debug!("bare");
        });
        assert_eq!(
            buf.text(),
            "2026-12-07 04:00:00.123 INFO connection open peer=127.0.0.1:5555 id=7\n\
             2026-12-07 04:00:00.123 WARN wal: write failed error=\"disk \\\"full\\\"\"\n\
             2026-12-07 04:00:00.123 DEBUG bare\n"
        );
    }

    #[test]
    fn the_real_timer_starts_the_line() {
        let buf = Buf::default();
        let sub = Registry::default().with(lines(buf.clone(), UtcMillis));
        let before = time(SystemTime::now());
        tracing::subscriber::with_default(sub, || tracing::info!(n = 1, "hello"));
        let after = time(SystemTime::now());
        let text = buf.text();
        let (stamp, rest) = text.split_at(before.len());
        assert!(
            before.as_str() <= stamp && stamp <= after.as_str(),
            "{text}"
        );
        assert_eq!(rest, " INFO hello n=1\n");
    }

    fn config(enable: bool, stdout: bool, file: bool) -> Config {
        Config {
            log_enable: enable,
            log_to_stdout: stdout,
            log_to_file: file,
            ..Config::default()
        }
    }

    /// Logs two events through [`subscriber`] built for `config` and returns what reached
    /// stdout and the log file (`None`: no file).
    fn run(config: &Config, level: LevelFilter) -> (String, Option<String>) {
        let tmp = TempDir::new("log");
        std::fs::create_dir(&tmp.0).unwrap();
        let stdout = Buf::default();
        let output = Output::open(config, &tmp.0, stdout.clone()).unwrap();
        let (sub, guard) = subscriber(output, level);
        tracing::subscriber::with_default(sub, || {
            tracing::info!(id = 1, "connection open");
            tracing::debug!(id = 1, "request error");
        });
        // the log thread writes out what is queued
        drop(guard);
        let file = std::fs::read_to_string(tmp.0.join("log")).ok();
        (stdout.text(), file)
    }

    fn lines_of(text: &str) -> Vec<&str> {
        text.lines().map(|l| &l[24..]).collect()
    }

    #[test]
    fn options_choose_the_targets() {
        let open = vec!["INFO connection open id=1"];
        // both
        let (out, file) = run(&config(true, true, true), LevelFilter::INFO);
        assert_eq!(lines_of(&out), open);
        assert_eq!(lines_of(&file.unwrap()), open);
        // the file only
        let (out, file) = run(&config(true, false, true), LevelFilter::INFO);
        assert_eq!(out, "");
        assert_eq!(lines_of(&file.unwrap()), open);
        // stdout only: no file is created
        let (out, file) = run(&config(true, true, false), LevelFilter::INFO);
        assert_eq!(lines_of(&out), open);
        assert_eq!(file, None);
        // log_enable off: nothing anywhere
        assert_eq!(
            run(&config(false, true, true), LevelFilter::INFO),
            (String::new(), None)
        );
        assert_eq!(
            run(&config(true, false, false), LevelFilter::INFO),
            (String::new(), None)
        );
        // a more verbose level lets the debug event through
        let (out, _) = run(&config(true, true, false), LevelFilter::DEBUG);
        assert_eq!(
            lines_of(&out),
            vec!["INFO connection open id=1", "DEBUG request error id=1"]
        );
    }

    #[test]
    fn the_file_is_appended_to() {
        let tmp = TempDir::new("log-append");
        std::fs::create_dir(&tmp.0).unwrap();
        std::fs::write(tmp.0.join("log"), "earlier\n").unwrap();
        let output = Output::open(&config(true, false, true), &tmp.0, io::sink()).unwrap();
        let (sub, guard) = subscriber(output, LevelFilter::INFO);
        tracing::subscriber::with_default(sub, || tracing::info!("later"));
        drop(guard);
        let text = std::fs::read_to_string(tmp.0.join("log")).unwrap();
        assert!(text.starts_with("earlier\n"), "{text}");
        assert!(text.ends_with(" INFO later\n"), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn disabled_levels_are_not_enabled() {
        let (sub, _guard) = subscriber(None, LevelFilter::TRACE);
        tracing::subscriber::with_default(sub, || {
            assert!(!tracing::enabled!(tracing::Level::ERROR));
        });
        let output = Output::open(&config(true, true, false), Path::new("."), io::sink()).unwrap();
        let (sub, _guard) = subscriber(output, LevelFilter::INFO);
        tracing::subscriber::with_default(sub, || {
            assert!(tracing::enabled!(tracing::Level::INFO));
            assert!(!tracing::enabled!(tracing::Level::DEBUG));
        });
    }

    /// The only test that installs the process's subscriber (the others are scoped).
    #[test]
    fn the_first_init_wins() {
        let first = TempDir::new("log-init");
        std::fs::create_dir(&first.0).unwrap();
        let config = config(true, false, true);
        init(&config, &first.0).unwrap();
        assert!(first.0.join("log").is_file());
        // a later call changes nothing: it does not even try to open its file
        let missing = TempDir::new("log-init-missing");
        init(&config, &missing.0).unwrap();
        assert!(!missing.0.exists());
    }

    #[test]
    fn open_errors_keep_their_text() {
        let tmp = TempDir::new("log-err");
        // the directory is never created
        let err = Output::open(&config(true, false, true), &tmp.0, io::sink())
            .err()
            .expect("no directory, no log file");
        let want = format!("log: '{}' open error (", tmp.0.join("log").display());
        assert!(err.msg().starts_with(&want), "{}", err.msg());
    }

    #[test]
    fn levels_from_the_environment() {
        assert_eq!(level(None).unwrap(), LevelFilter::INFO);
        assert_eq!(level(Some("")).unwrap(), LevelFilter::INFO);
        assert_eq!(level(Some("debug")).unwrap(), LevelFilter::DEBUG);
        assert_eq!(level(Some("WARN")).unwrap(), LevelFilter::WARN);
        assert_eq!(level(Some("off")).unwrap(), LevelFilter::OFF);
        assert_eq!(
            level(Some("loud")).unwrap_err().msg(),
            "log: AMELIE_LOG 'loud' is not a level (off, error, warn, info, debug, trace)"
        );
    }
}
