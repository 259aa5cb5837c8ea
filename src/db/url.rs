//! Which database a URL names. Chosen by scheme only: a bare path must not silently
//! create a file, and another scheme must not fall through to a backend that happens to accept it.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, passed to libpq as written.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "sqlite:// needs a file path, for example sqlite://data/coproduce.db".into(),
                );
            }
            // Each pooled connection would get its own empty in-memory database.
            if path.contains(":memory:")
                || path.starts_with("file:")
                || path.contains("mode=memory")
            {
                return Err("sqlite:// needs a file path; in-memory and file: URI databases are not supported".into());
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        let scheme = url.split_once("://").map_or("(none)", |(scheme, _)| scheme);
        Err(format!(
            "scheme `{scheme}` is not supported; use sqlite://<file path> (for example sqlite://data/coproduce.db) or postgres://user:password@host:port/dbname"
        ))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Where the data lives, without credentials, for the start-up line.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite file {}", path.display()),
            Self::Postgres(url) => {
                let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
                let host_and_db = after_scheme
                    .rsplit_once('@')
                    .map_or(after_scheme, |(_, rest)| rest);
                let without_query = host_and_db.split('?').next().unwrap_or(host_and_db);
                format!("PostgreSQL {without_query}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_gives_the_path() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/x.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/x.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("/var/lib/x.db")))
        );
    }

    #[test]
    fn postgres_urls_are_accepted_in_both_spellings() {
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/d"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/d"),
            Ok(DatabaseUrl::Postgres(_))
        ));
    }

    #[test]
    fn in_memory_databases_are_refused() {
        for url in [
            "sqlite://:memory:",
            "sqlite://file:x?mode=memory",
            "sqlite://file:data.db",
        ] {
            assert!(DatabaseUrl::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn bare_path_is_refused() {
        let error = DatabaseUrl::parse("data/coproduce.db")
            .err()
            .unwrap_or_default();
        assert!(error.contains("sqlite://"), "{error}");
    }

    #[test]
    fn other_scheme_is_refused_naming_it() {
        let error = DatabaseUrl::parse("mysql://root@h/d")
            .err()
            .unwrap_or_default();
        assert!(error.contains("`mysql`"), "{error}");
    }

    #[test]
    fn description_hides_the_password() {
        let url =
            DatabaseUrl::parse("postgres://app:s3cret@db.internal:5432/coproduce?sslmode=require")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.describe(), "PostgreSQL db.internal:5432/coproduce");
    }
}
