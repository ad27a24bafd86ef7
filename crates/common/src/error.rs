//! The user-facing error: every failure a client can see ends up as one of these and is
//! answered as `400 {"msg": "<text>"}`.

use std::fmt;

/// What kind of failure an [`Error`] is, for code that must react to one failure and not
/// another: code decides on the kind, never on the message text. Errors nobody needs to tell
/// apart are [`ErrorKind::Other`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    #[default]
    Other,
    /// Text where an expression was expected is not one (`bad expression`).
    BadExpression,
    /// An operator applied to operand types it does not take (`unsupported operation: ...`).
    UnsupportedOperation,
    /// A distributed table named inside a subquery (`distributed table '...' cannot be used
    /// in subquery`): the query cannot run whatever the plan.
    DistributedTableInSubquery,
}

/// A user-facing error message: the text is exactly what the client receives in
/// `{"msg": ...}`, and [`Error::kind`] classifies it. Crates with errors of their own (the
/// WAL's `WalError`, the system crate's `OptionError`) convert into it at their boundary.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Error {
    msg: String,
    #[serde(default)]
    kind: ErrorKind,
}

impl Error {
    /// An error of kind [`ErrorKind::Other`].
    pub fn new(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            kind: ErrorKind::Other,
        }
    }

    /// An error of the given kind.
    pub fn with_kind(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            kind,
        }
    }

    pub fn msg(&self) -> &str {
        &self.msg
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
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
    fn kinds() {
        use super::{Error, ErrorKind};
        let e = Error::new("x");
        assert_eq!((e.kind(), e.msg()), (ErrorKind::Other, "x"));
        let e = Error::with_kind(ErrorKind::BadExpression, "bad expression");
        assert_eq!(e.kind(), ErrorKind::BadExpression);
        assert_eq!(e.to_string(), "bad expression");
        // the kind travels with the error where errors are encoded (node replies)
        let bytes = postcard::to_allocvec(&e).unwrap();
        let back: Error = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, e);
    }

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
