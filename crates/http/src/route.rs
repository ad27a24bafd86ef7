//! Routing by `Content-Type`, then URL (spec §1.2).

/// What a request's (exact, case-sensitive, parameterless) `Content-Type` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// `text/plain` or `application/sql`: execute SQL, URL must be `/`.
    Sql,
    /// `text/csv`, `application/jsonl` or `application/json`: import into `/<schema>/<table>`.
    Import,
    /// Anything else: `unsupported API operation`.
    Unsupported,
}

impl ContentKind {
    pub fn of(content_type: &str) -> ContentKind {
        match content_type {
            "text/plain" | "application/sql" => ContentKind::Sql,
            "text/csv" | "application/jsonl" | "application/json" => ContentKind::Import,
            _ => ContentKind::Unsupported,
        }
    }
}

/// Split an import path `/<schema>/<table>` (both non-empty, nothing else) into its parts.
pub fn parse_import_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (schema, table) = rest.split_once('/')?;
    if schema.is_empty() || table.is_empty() || table.contains('/') {
        return None;
    }
    Some((schema, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(ContentKind::of("text/plain"), ContentKind::Sql);
        assert_eq!(ContentKind::of("application/sql"), ContentKind::Sql);
        assert_eq!(ContentKind::of("text/csv"), ContentKind::Import);
        assert_eq!(ContentKind::of("application/jsonl"), ContentKind::Import);
        assert_eq!(ContentKind::of("application/json"), ContentKind::Import);
        assert_eq!(ContentKind::of("Text/Plain"), ContentKind::Unsupported);
        assert_eq!(
            ContentKind::of("text/plain; charset=utf-8"),
            ContentKind::Unsupported
        );
        assert_eq!(ContentKind::of(""), ContentKind::Unsupported);
    }

    #[test]
    fn import_path() {
        assert_eq!(parse_import_path("/public/t"), Some(("public", "t")));
        assert_eq!(parse_import_path("/"), None);
        assert_eq!(parse_import_path(""), None);
        assert_eq!(parse_import_path("/public"), None);
        assert_eq!(parse_import_path("/public/"), None);
        assert_eq!(parse_import_path("//t"), None);
        assert_eq!(parse_import_path("/a/b/"), None);
        assert_eq!(parse_import_path("/a/b/c"), None);
        assert_eq!(parse_import_path("a/b"), None);
    }
}
