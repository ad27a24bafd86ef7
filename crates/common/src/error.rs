//! The user-facing error: every failure a client can see ends up as one of these and is
//! answered as `400 {"msg": "<text>"}`.

use std::fmt;

/// A user-facing error message. Crates keep their own `thiserror` enums and convert into this
/// at their boundary; the text is exactly what the client receives in `{"msg": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Error {
    msg: String,
}

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error { msg: msg.into() }
    }

    pub fn msg(&self) -> &str {
        &self.msg
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// A file path as error texts show it: its last two components (`wal/00000042.wal`,
/// `17/node.snap`), never the absolute path of the repository, which is none of a client's
/// business.
pub fn path_tail(path: &std::path::Path) -> String {
    let mut parts: Vec<_> = path
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .rev()
        .take(2)
        .collect();
    parts.reverse();
    parts
        .iter()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `bail!("text {}", x)` returns `Err(Error::new(format!(...)))`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::Error::new(format!($($arg)*))) };
}

/// `err!("text {}", x)` builds an `Error`.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::Error::new(format!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::path_tail;
    use std::path::Path;

    #[test]
    fn path_tail_hides_the_directory() {
        assert_eq!(
            path_tail(Path::new("/srv/db/wal/00000042.wal")),
            "wal/00000042.wal"
        );
        assert_eq!(path_tail(Path::new("/a")), "a");
        assert_eq!(path_tail(Path::new("x.snap")), "x.snap");
    }
}
