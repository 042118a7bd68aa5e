//! Where the store lives: `[store] url` in `warden.toml`, or
//! `WARDEN_STORE_URL` (which wins). A `postgres://` (or `postgresql://`)
//! URL selects [`PgStore`]; a `sqlite:` URL or a plain path selects the
//! embedded [`SqliteStore`]; nothing set means `warden.db` in the data
//! directory, as always.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::postgres::mask_url;
use crate::{Backend, PgStore, SqliteStore, StoreError};

/// A parsed store location.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (may carry a password: shown only
    /// through [`StoreUrl::masked`]).
    Postgres(String),
}

// Never print the password, even in a debug dump of the configuration.
impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&mask_url(url)).finish(),
        }
    }
}

/// A store location that names no backend Warden has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "store url {url:?} is not supported: use postgres://USER@HOST:PORT/DATABASE, \
     sqlite:PATH or a file path"
)]
pub struct UnsupportedUrl {
    /// The URL, password masked.
    pub url: String,
}

impl StoreUrl {
    /// Parse `text`; a relative SQLite path is taken relative to
    /// `data_dir`.
    pub fn parse(text: &str, data_dir: &Path) -> Result<Self, UnsupportedUrl> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        let path = if let Some(rest) = lower.strip_prefix("sqlite:") {
            // `sqlite://PATH` or `sqlite:PATH`, same case as given.
            let rest_len = rest.len();
            let given = text.get(text.len() - rest_len..).unwrap_or_default();
            given.strip_prefix("//").unwrap_or(given).to_owned()
        } else if text.contains("://") || text.is_empty() {
            return Err(UnsupportedUrl {
                url: mask_url(text),
            });
        } else {
            text.to_owned()
        };
        if path.is_empty() {
            return Err(UnsupportedUrl {
                url: mask_url(text),
            });
        }
        Ok(Self::Sqlite(data_dir.join(path)))
    }

    /// The embedded default: `warden.db` in `data_dir`.
    pub fn default_in(data_dir: &Path) -> Self {
        Self::Sqlite(data_dir.join("warden.db"))
    }

    /// Fit to show: the path, or the URL with its password masked.
    pub fn masked(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => mask_url(url),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// Open the store at `url`, bringing its schema up to date.
pub async fn open(url: &StoreUrl) -> Result<Arc<dyn Backend>, StoreError> {
    Ok(match url {
        StoreUrl::Sqlite(path) => Arc::new(SqliteStore::open(path).await?),
        StoreUrl::Postgres(url) => Arc::new(PgStore::connect(url).await?),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        let dir = Path::new("/var/lib/warden");
        assert_eq!(
            StoreUrl::parse("postgres://w:p@db/warden", dir),
            Ok(StoreUrl::Postgres("postgres://w:p@db/warden".into()))
        );
        assert_eq!(
            StoreUrl::parse("postgresql://db/warden", dir),
            Ok(StoreUrl::Postgres("postgresql://db/warden".into()))
        );
        assert_eq!(
            StoreUrl::parse("warden.db", dir),
            Ok(StoreUrl::Sqlite(dir.join("warden.db")))
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///srv/w.db", dir),
            Ok(StoreUrl::Sqlite(PathBuf::from("/srv/w.db")))
        );
        assert_eq!(
            StoreUrl::parse("sqlite:Other.db", dir),
            Ok(StoreUrl::Sqlite(dir.join("Other.db")))
        );
        let refused = StoreUrl::parse("mysql://root:hunter2@db/w", dir).expect_err("mysql");
        assert!(!refused.to_string().contains("hunter2"), "{refused}");
        assert!(StoreUrl::parse("", dir).is_err());
        assert!(StoreUrl::parse("sqlite:", dir).is_err());
    }

    #[test]
    fn debug_masks_the_password() {
        let url = StoreUrl::Postgres("postgres://w:hunter2@db/warden".into());
        let shown = format!("{url:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(url.masked(), "postgres://w:***@db/warden");
    }
}
