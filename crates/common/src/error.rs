//! The user-facing error: every failure a client can see ends up as one of these and is
//! answered as `400 {"msg": "<text>"}`.

use std::fmt;

/// What kind of failure an [`Error`] is. The kind is for code (and logs): code decides on
/// the kind, never on the message text, and the text a client receives does not depend on
/// it. Errors nobody has classified are [`ErrorKind::Other`].
///
/// [`ErrorKind::BadExpression`], [`ErrorKind::UnsupportedOperation`] and
/// [`ErrorKind::DistributedTableInSubquery`] are refinements (of `Syntax`, `Type` and
/// `Unsupported`) that some code matches on; they keep their places so the encoding of an
/// error between nodes does not change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Not classified.
    #[default]
    Other,
    /// Text where an expression was expected is not one (`bad expression`); a kind of
    /// `Syntax`.
    BadExpression,
    /// An operator applied to operand types it does not take (`unsupported operation: ...`);
    /// a kind of `Type`.
    UnsupportedOperation,
    /// A distributed table named inside a subquery (`distributed table '...' cannot be used
    /// in subquery`): the query cannot run whatever the plan; a kind of `Unsupported`.
    DistributedTableInSubquery,
    /// Text that does not parse: tokenizer and parser errors, malformed literals.
    Syntax,
    /// A named object does not exist: table, schema, column, function, option, user, ...
    NotFound,
    /// An object to be created exists already.
    AlreadyExists,
    /// A feature or combination that is not supported.
    Unsupported,
    /// A value of the wrong type, a failed cast, an argument out of its domain.
    Type,
    /// A constraint is violated: NOT NULL, unique / primary key duplicates.
    Constraint,
    /// A transaction conflict or abort.
    Conflict,
    /// A memory, time, size or count limit is reached.
    LimitReached,
    /// Authentication and permission: tokens, users, grants.
    Auth,
    /// File, WAL and checkpoint input/output.
    Io,
    /// A write refused by a read-only server (a subscribed replica).
    ReadOnly,
    /// A state that should not happen: a bug or a broken invariant.
    Internal,
    /// A replication stream that does not fit: a gap in the LSNs a replica receives, or a
    /// replica asking for WAL records the primary no longer has (`replica is outdated`).
    Replication,
}

/// A user-facing error message: the text is exactly what the client receives in
/// `{"msg": ...}`, and [`Error::kind`] classifies it. Crates with errors of their own (the
/// WAL's `WalError`, the system crate's `OptionError`) convert into it at their boundary.
///
/// The message and kind sit behind one pointer, so an `Error` is one word and a
/// `Result<T>` is no bigger than it must be: results are returned per row on the hot paths,
/// and errors are rare.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Error(Box<Inner>);

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Inner {
    msg: String,
    #[serde(default)]
    kind: ErrorKind,
}

impl Error {
    /// An error of kind [`ErrorKind::Other`].
    pub fn new(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Other, msg)
    }

    /// An error of the given kind.
    pub fn with_kind(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            msg: msg.into(),
            kind,
        }))
    }

    /// An error of kind [`ErrorKind::Syntax`].
    pub fn syntax(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Syntax, msg)
    }

    /// An error of kind [`ErrorKind::NotFound`].
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::NotFound, msg)
    }

    /// An error of kind [`ErrorKind::AlreadyExists`].
    pub fn already_exists(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::AlreadyExists, msg)
    }

    /// An error of kind [`ErrorKind::Unsupported`].
    pub fn unsupported(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Unsupported, msg)
    }

    /// An error of kind [`ErrorKind::Type`].
    pub fn type_error(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Type, msg)
    }

    /// An error of kind [`ErrorKind::Constraint`].
    pub fn constraint(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Constraint, msg)
    }

    /// An error of kind [`ErrorKind::Conflict`].
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Conflict, msg)
    }

    /// An error of kind [`ErrorKind::LimitReached`].
    pub fn limit_reached(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::LimitReached, msg)
    }

    /// An error of kind [`ErrorKind::Auth`].
    pub fn auth(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Auth, msg)
    }

    /// An error of kind [`ErrorKind::Io`].
    pub fn io(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Io, msg)
    }

    /// The refusal of a write on a read-only server (a subscribed replica): kind
    /// An error of kind [`ErrorKind::Replication`].
    pub fn replication(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Replication, msg)
    }

    /// [`ErrorKind::ReadOnly`], Amelie's text.
    pub fn read_only() -> Self {
        Self::with_kind(ErrorKind::ReadOnly, "system is in read-only mode")
    }

    /// An error of kind [`ErrorKind::Internal`].
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::with_kind(ErrorKind::Internal, msg)
    }

    /// The same text with another kind (for a generic error a caller knows more about).
    pub fn into_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    pub fn msg(&self) -> &str {
        &self.0.msg
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("msg", &self.0.msg)
            .field("kind", &self.0.kind)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.msg)
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

/// `bail!("text {}", x)` returns `Err(Error::new(format!(...)))`; `bail!(NotFound, "text {}",
/// x)` returns an error of that [`ErrorKind`].
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::Error::with_kind($crate::ErrorKind::$kind, format!($($arg)*)))
    };
    ($($arg:tt)*) => { return Err($crate::Error::new(format!($($arg)*))) };
}

/// `err!("text {}", x)` builds an `Error`; `err!(NotFound, "text {}", x)` one of that
/// [`ErrorKind`].
#[macro_export]
macro_rules! err {
    ($kind:ident, $($arg:tt)*) => {
        $crate::Error::with_kind($crate::ErrorKind::$kind, format!($($arg)*))
    };
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
    fn macros_and_constructors_set_the_kind_and_keep_the_text() {
        use super::{Error, ErrorKind};
        let name = "t";
        let e = crate::err!(NotFound, "table '{}' not exists", name);
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::NotFound, "table 't' not exists")
        );
        let e = crate::err!("plain {}", 1);
        assert_eq!((e.kind(), e.msg()), (ErrorKind::Other, "plain 1"));
        fn limited() -> crate::Result<()> {
            crate::bail!(LimitReached, "memory limit reached ({} bytes)", 10)
        }
        let e = limited().unwrap_err();
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::LimitReached, "memory limit reached (10 bytes)")
        );
        fn plain() -> crate::Result<()> {
            crate::bail!("x {}", "y")
        }
        assert_eq!(plain().unwrap_err().kind(), ErrorKind::Other);
        for (e, kind) in [
            (Error::syntax("m"), ErrorKind::Syntax),
            (Error::not_found("m"), ErrorKind::NotFound),
            (Error::already_exists("m"), ErrorKind::AlreadyExists),
            (Error::unsupported("m"), ErrorKind::Unsupported),
            (Error::type_error("m"), ErrorKind::Type),
            (Error::constraint("m"), ErrorKind::Constraint),
            (Error::conflict("m"), ErrorKind::Conflict),
            (Error::limit_reached("m"), ErrorKind::LimitReached),
            (Error::auth("m"), ErrorKind::Auth),
            (Error::io("m"), ErrorKind::Io),
            (Error::internal("m"), ErrorKind::Internal),
            (Error::replication("m"), ErrorKind::Replication),
        ] {
            assert_eq!((e.kind(), e.msg()), (kind, "m"));
        }
        assert_eq!(
            Error::new("m").into_kind(ErrorKind::Io).kind(),
            ErrorKind::Io
        );
        let e = Error::read_only();
        assert_eq!(
            (e.kind(), e.msg()),
            (ErrorKind::ReadOnly, "system is in read-only mode")
        );
    }

    #[test]
    fn an_error_is_one_word() {
        // results travel per row on the hot paths: an error must not make them bigger
        assert_eq!(
            std::mem::size_of::<super::Error>(),
            std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<super::Result<()>>(),
            std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<super::Result<crate::Value>>(),
            std::mem::size_of::<crate::Value>()
        );
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
