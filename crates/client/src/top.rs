//! `amelie top [login] [client options] [--interval=ms] [--count=n] [--once]`: a refreshing
//! terminal view of `SHOW STATUS` (spec §4.1), drawn with ratatui over crossterm
//! (docs/decisions.md, "amelie top").
//!
//! Rates (MiB/s sent and received, transactions/s) need two samples: the view is a pure
//! function of the previous and the current [`Sample`] ([`View`], a ratatui widget), so it is
//! tested on a plain buffer. On a terminal the screen is redrawn every `interval` (1 s) in the
//! alternate screen until `q`, `Esc` or Ctrl-C (or `count` refreshes); the terminal is
//! restored on every way out. When standard output is not a terminal, or with `--once`, one
//! frame is printed as text after two samples.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use amelie_common::{Error, Result};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use serde_json::Value;

use crate::conn::BlockingClient;
use crate::remote::Opt;

/// The request behind every sample.
pub const STATUS_SQL: &str = "show status format 'json'";

/// The numbers of one `SHOW STATUS` the view shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    pub version: String,
    pub uuid: String,
    pub frontends: i64,
    pub backends: i64,
    pub uptime: i64,
    pub mem_virt: i64,
    pub mem_resident: i64,
    pub cpu_count: i64,
    pub cpu: i64,
    pub cpu_frontends: Vec<i64>,
    pub cpu_backends: Vec<i64>,
    pub connections: i64,
    pub sent_bytes: i64,
    pub recv_bytes: i64,
    pub lsn: i64,
    pub checkpoint: i64,
    pub wal_files: i64,
    /// WAL records written (one per transaction that changed something).
    pub wal_ops: i64,
    pub schemas: i64,
    pub tables: i64,
    pub tables_shared: i64,
    pub secondary_indexes: i64,
}

impl Status {
    /// Reads the reply body of [`STATUS_SQL`] (`[{...}]` or the object itself). Missing
    /// numbers are 0; a body that is not a JSON object is an error.
    pub fn parse(body: &str) -> Result<Status> {
        let v: Value = serde_json::from_str(body)
            .map_err(|e| Error::syntax(format!("top: unexpected status reply: {e}")))?;
        let v = match v {
            Value::Array(mut a) if a.len() == 1 => a.remove(0),
            v => v,
        };
        if !v.is_object() {
            return Err(Error::syntax("top: unexpected status reply: not an object"));
        }
        let int = |path: &[&str]| {
            path.iter()
                .try_fold(&v, |v, k| v.get(k))
                .and_then(Value::as_i64)
                .unwrap_or(0)
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let list = |k: &str| {
            v.get("process")
                .and_then(|p| p.get(k))
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|x| x.as_i64().unwrap_or(0)).collect())
                .unwrap_or_default()
        };
        Ok(Status {
            version: text("version"),
            uuid: text("uuid"),
            frontends: int(&["frontends"]),
            backends: int(&["backends"]),
            uptime: int(&["process", "uptime"]),
            mem_virt: int(&["process", "mem_virt"]),
            mem_resident: int(&["process", "mem_resident"]),
            cpu_count: int(&["process", "cpu_count"]),
            cpu: int(&["process", "cpu"]),
            cpu_frontends: list("cpu_frontends"),
            cpu_backends: list("cpu_backends"),
            connections: int(&["net", "connections"]),
            sent_bytes: int(&["net", "sent_bytes"]),
            recv_bytes: int(&["net", "recv_bytes"]),
            lsn: int(&["wal", "lsn"]),
            checkpoint: int(&["wal", "checkpoint"]),
            wal_files: int(&["wal", "files"]),
            wal_ops: int(&["wal", "ops"]),
            schemas: int(&["db", "schemas"]),
            tables: int(&["db", "tables"]),
            tables_shared: int(&["db", "tables_shared"]),
            secondary_indexes: int(&["db", "secondary_indexes"]),
        })
    }
}

/// A status and when it was taken (seconds on any clock that only moves forward).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub status: Status,
    pub at: f64,
}

/// The screen: the current sample, with rates against the previous one (none yet: rates
/// are shown as `-`).
pub struct View<'a> {
    pub name: &'a str,
    pub prev: Option<&'a Sample>,
    pub cur: &'a Sample,
}

const MIB: f64 = 1024.0 * 1024.0;

/// Per second between two samples (None without a previous one or a time step).
fn rate(prev: Option<&Sample>, cur: &Sample, f: impl Fn(&Status) -> i64) -> Option<f64> {
    let prev = prev?;
    let dt = cur.at - prev.at;
    if dt <= 0.0 {
        return None;
    }
    Some((f(&cur.status) - f(&prev.status)).max(0) as f64 / dt)
}

fn fmt_rate(r: Option<f64>, scale: f64, decimals: usize) -> String {
    match r {
        Some(r) => format!("{:.*}", decimals, r / scale),
        None => "-".to_string(),
    }
}

fn fmt_bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n >= 1024.0 * MIB {
        format!("{:.1} GiB", n / 1024.0 / MIB)
    } else {
        format!("{:.1} MiB", n / MIB)
    }
}

fn fmt_uptime(s: i64) -> String {
    let s = s.max(0);
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// `name  [#####.....]  42%`: a bar of `width` cells for a percentage.
fn cpu_line(label: String, percent: i64, width: usize) -> Line<'static> {
    let p = percent.clamp(0, 100) as usize;
    let filled = (p * width).div_ceil(100).min(width);
    Line::from(vec![
        Span::raw(format!(" {label:<12}[")),
        Span::styled(
            "|".repeat(filled),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(" ".repeat(width - filled)),
        Span::raw(format!("] {p:>3}%")),
    ])
}

impl View<'_> {
    /// The lines of the view.
    pub fn lines(&self) -> Vec<Line<'static>> {
        let s = &self.cur.status;
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let mut out = vec![
            Line::from(vec![
                Span::styled(" amelie ", bold),
                Span::raw(format!(
                    "{}  uptime {}  frontends {}  backends {}",
                    s.version,
                    fmt_uptime(s.uptime),
                    s.frontends,
                    s.backends
                )),
            ]),
            Line::from(format!(
                " cpu {}% of {} cpus   memory {} resident, {} virtual",
                s.cpu,
                s.cpu_count,
                fmt_bytes(s.mem_resident),
                fmt_bytes(s.mem_virt)
            )),
            Line::from(""),
        ];
        for (i, p) in s.cpu_frontends.iter().enumerate() {
            out.push(cpu_line(format!("frontend {i}"), *p, 30));
        }
        for (i, p) in s.cpu_backends.iter().enumerate() {
            out.push(cpu_line(format!("backend {i}"), *p, 30));
        }
        let prev = self.prev;
        out.extend([
            Line::from(""),
            Line::from(format!(
                " connections {}   recv {} MiB/s   sent {} MiB/s",
                s.connections,
                fmt_rate(rate(prev, self.cur, |s| s.recv_bytes), MIB, 2),
                fmt_rate(rate(prev, self.cur, |s| s.sent_bytes), MIB, 2),
            )),
            Line::from(format!(
                " transactions/s {}",
                fmt_rate(rate(prev, self.cur, |s| s.wal_ops), 1.0, 0)
            )),
            Line::from(format!(
                " lsn {}   checkpoint {}   wal files {}",
                s.lsn, s.checkpoint, s.wal_files
            )),
            Line::from(format!(
                " schemas {}   tables {} ({} shared)   secondary indexes {}",
                s.schemas, s.tables, s.tables_shared, s.secondary_indexes
            )),
        ]);
        out
    }
}

impl Widget for View<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let title = format!(" top: {} ", self.name);
        let block = Block::bordered().title(title).title_bottom(" q: quit ");
        Paragraph::new(self.lines()).block(block).render(area, buf);
    }
}

/// The text of a buffer: its rows with trailing spaces cut.
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The options of `top` (besides the client options).
#[derive(Clone, Debug, PartialEq)]
pub struct TopOptions {
    /// Time between two samples.
    pub interval: Duration,
    /// Stop after this many refreshes (0: run until `q`).
    pub count: u64,
    /// Print one frame as text and stop.
    pub once: bool,
}

impl Default for TopOptions {
    fn default() -> Self {
        TopOptions {
            interval: Duration::from_secs(1),
            count: 0,
            once: false,
        }
    }
}

impl TopOptions {
    /// The names `top` takes itself.
    pub fn is_option(name: &str) -> bool {
        matches!(name, "interval" | "count" | "once")
    }

    pub fn from_options(options: &[Opt]) -> Result<TopOptions> {
        let mut t = TopOptions::default();
        for o in options {
            let int = || {
                o.value
                    .as_u64()
                    .or_else(|| o.value.as_str().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| Error::syntax(format!("option '{}': integer expected", o.name)))
            };
            match o.name.as_str() {
                "interval" => t.interval = Duration::from_millis(int()?.max(1)),
                "count" => t.count = int()?,
                "once" => {
                    t.once = match &o.value {
                        Value::Bool(b) => *b,
                        _ => return Err(Error::syntax("option 'once': bool expected")),
                    }
                }
                _ => {}
            }
        }
        Ok(t)
    }
}

/// Takes one sample.
fn sample(client: &mut BlockingClient, started: Instant) -> Result<Sample> {
    let reply = client.sql(STATUS_SQL)?;
    if reply.status != 200 {
        let msg = match reply.status {
            403 => "403 Forbidden".to_string(),
            _ => reply.body.clone(),
        };
        return Err(Error::new(format!("top: {msg}")));
    }
    Ok(Sample {
        status: Status::parse(&reply.body)?,
        at: started.elapsed().as_secs_f64(),
    })
}

/// Runs `top` against a connected client.
pub fn run(client: &mut BlockingClient, name: &str, opts: &TopOptions) -> Result<()> {
    if opts.once || !std::io::stdout().is_terminal() {
        let text = once(client, name, opts.interval)?;
        print!("{text}");
        return Ok(());
    }
    interactive(client, name, opts)
}

/// Two samples `interval` apart, drawn as text on 80 columns.
pub fn once(client: &mut BlockingClient, name: &str, interval: Duration) -> Result<String> {
    let started = Instant::now();
    let first = sample(client, started)?;
    std::thread::sleep(interval);
    let cur = sample(client, started)?;
    let view = View {
        name,
        prev: Some(&first),
        cur: &cur,
    };
    let height = view.lines().len() as u16 + 2;
    let mut buf = Buffer::empty(Rect::new(0, 0, 80, height));
    view.render(buf.area, &mut buf);
    Ok(buffer_text(&buf))
}

/// Leaves raw mode and the alternate screen when dropped (also when unwinding).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        use ratatui::crossterm::{cursor, execute, terminal};
        let _ = terminal::disable_raw_mode();
        let _ = execute!(
            std::io::stdout(),
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
    }
}

fn interactive(client: &mut BlockingClient, name: &str, opts: &TopOptions) -> Result<()> {
    use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
    use ratatui::crossterm::{cursor, execute, terminal};
    let io = |e: std::io::Error| Error::io(format!("top: terminal: {e}"));
    let started = Instant::now();
    // the first sample before the screen changes, so a connection error is printed plainly
    let mut cur = sample(client, started)?;
    let mut prev: Option<Sample> = None;
    terminal::enable_raw_mode().map_err(io)?;
    let _restore = Restore;
    execute!(
        std::io::stdout(),
        terminal::EnterAlternateScreen,
        cursor::Hide
    )
    .map_err(io)?;
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut term = ratatui::Terminal::new(backend).map_err(io)?;
    let mut refreshes = 0u64;
    loop {
        term.draw(|f| {
            let view = View {
                name,
                prev: prev.as_ref(),
                cur: &cur,
            };
            f.render_widget(view, f.area());
        })
        .map_err(io)?;
        refreshes += 1;
        if opts.count > 0 && refreshes >= opts.count {
            return Ok(());
        }
        let deadline = Instant::now() + opts.interval;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if event::poll(left).map_err(io)? {
                match event::read().map_err(io)? {
                    Event::Key(k) if k.kind != KeyEventKind::Release => {
                        let ctrl_c = k.modifiers.contains(KeyModifiers::CONTROL)
                            && matches!(k.code, KeyCode::Char('c'));
                        if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                            return Ok(());
                        }
                    }
                    Event::Resize(..) => break,
                    _ => {}
                }
            }
        }
        let next = sample(client, started)?;
        prev = Some(std::mem::replace(&mut cur, next));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"[{"uuid": "u", "version": "1.0.0", "frontends": 2, "backends": 1,
        "db": {"schemas": 2, "tables": 3, "tables_shared": 1, "secondary_indexes": 4},
        "process": {"uptime": 3725, "mem_virt": 2147483648, "mem_resident": 10485760,
          "mem_shared": 0, "cpu_count": 4, "cpu": 12, "cpu_frontends": [50, 0],
          "cpu_backends": [100]},
        "net": {"connections": 5, "sent_bytes": 1048576, "recv_bytes": 0},
        "wal": {"lsn": 10, "lsn_min": 1, "files": 1, "slots": 0, "slots_min": -1,
          "writes": 3, "writes_bytes": 100, "ops": 7, "checkpoint": 1},
        "repl": {}}]"#;

    #[test]
    fn status_parses_and_bad_replies_are_errors() {
        let s = Status::parse(BODY).unwrap();
        assert_eq!(s.cpu_frontends, vec![50, 0]);
        assert_eq!(
            (s.tables, s.secondary_indexes, s.lsn, s.wal_ops),
            (3, 4, 10, 7)
        );
        assert!(Status::parse("[1]").is_err());
        assert!(Status::parse("nope").is_err());
        assert_eq!(Status::parse("{}").unwrap(), Status::default());
    }

    #[test]
    fn view_draws_rates_from_two_samples() {
        let first = Sample {
            status: Status::parse(BODY).unwrap(),
            at: 1.0,
        };
        let mut later = first.clone();
        later.at = 3.0;
        later.status.sent_bytes += 4 * 1048576;
        later.status.wal_ops += 2000;
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 16));
        View {
            name: "local",
            prev: Some(&first),
            cur: &later,
        }
        .render(buf.area, &mut buf);
        let text = buffer_text(&buf);
        assert!(text.contains("top: local"), "{text}");
        assert!(text.contains("uptime 01:02:05"), "{text}");
        assert!(text.contains("cpu 12% of 4 cpus"), "{text}");
        assert!(text.contains("memory 10.0 MiB resident, 2.0 GiB virtual"));
        assert!(
            text.contains("frontend 0  [|||||||||||||||               ]  50%"),
            "{text}"
        );
        assert!(text.contains("frontend 1  [                              ]   0%"));
        assert!(text.contains("backend 0   [||||||||||||||||||||||||||||||] 100%"));
        assert!(text.contains("recv 0.00 MiB/s   sent 2.00 MiB/s"), "{text}");
        assert!(text.contains("transactions/s 1000"));
        assert!(text.contains("lsn 10   checkpoint 1   wal files 1"));
        assert!(text.contains("schemas 2   tables 3 (1 shared)   secondary indexes 4"));
        assert!(text.contains("q: quit"));
        // without a previous sample there are no rates yet
        let mut buf = Buffer::empty(Rect::new(0, 0, 80, 16));
        View {
            name: "local",
            prev: None,
            cur: &first,
        }
        .render(buf.area, &mut buf);
        assert!(buffer_text(&buf).contains("recv - MiB/s   sent - MiB/s"));
    }

    #[test]
    fn options() {
        let o = |name: &str, value: Value| Opt {
            name: name.into(),
            value,
        };
        let t = TopOptions::from_options(&[
            o("interval", Value::from(250)),
            o("count", Value::from("2")),
            o("once", Value::Bool(true)),
        ])
        .unwrap();
        assert_eq!(t.interval, Duration::from_millis(250));
        assert_eq!((t.count, t.once), (2, true));
        assert!(TopOptions::from_options(&[o("count", Value::from("x"))]).is_err());
        assert!(TopOptions::from_options(&[o("once", Value::from(1))]).is_err());
    }
}
