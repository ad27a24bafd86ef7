//! A tiny process-wide logger: lines prefixed with a UTC timestamp, written to stdout and/or
//! `<repo>/log` according to `log_enable`, `log_to_stdout` and `log_to_file`.
//!
//! [`init`] configures it once; before that [`log`] writes to stderr.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use amelie_common::{Error, Result};

use crate::config::Config;

struct Logger {
    enable: bool,
    stdout: bool,
    file: Option<Mutex<File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Configures the logger from `config`; the log file is `<dir>/log`. Only the first call has
/// an effect.
pub fn init(config: &Config, dir: &Path) -> Result<()> {
    if LOGGER.get().is_some() {
        return Ok(());
    }
    let file = if config.log_enable && config.log_to_file {
        let path = dir.join("log");
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::new(format!("log: '{}' open error ({e})", path.display())))?;
        Some(Mutex::new(f))
    } else {
        None
    };
    let _ = LOGGER.set(Logger {
        enable: config.log_enable,
        stdout: config.log_to_stdout,
        file,
    });
    Ok(())
}

/// Writes one log line (`YYYY-MM-DD HH:MM:SS.mmm <msg>`).
pub fn log(msg: &str) {
    let line = format!("{} {msg}\n", timestamp(SystemTime::now()));
    match LOGGER.get() {
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
        Some(logger) => {
            if !logger.enable {
                return;
            }
            if logger.stdout {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
            if let Some(file) = &logger.file {
                let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
                let _ = f.write_all(line.as_bytes());
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00.000");
        let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789);
        assert_eq!(timestamp(t), "2000-02-29 12:34:56.789");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(timestamp(t), "2024-12-31 23:59:59.000");
    }
}
