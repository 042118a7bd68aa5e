//! `[audit] witnesses` entries: a URL string, or a table with a URL and
//! the bearer token an HTTP witness wants.
//!
//! ```toml
//! [audit]
//! witnesses = [
//!   "file:///mnt/other/warden-checkpoints",
//!   { url = "https://witness.example.org/warden/checkpoints", token = { env = "WARDEN_WITNESS_TOKEN" } },
//!   "syslog+tcp://siem.example.org:6514",
//! ]
//! ```

use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
/// Where a token is read from: `{ env = "NAME" }` or `{ file = "/path" }`.
pub use warden_http::SecretRef;

/// One `[audit] witnesses` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessConfig {
    /// Where the witness is: `file:///PATH`, `https://HOST/PATH` (plain
    /// `http://` only to a loopback address), `syslog+udp://HOST:PORT` or
    /// `syslog+tcp://HOST:PORT`.
    pub url: String,
    /// HTTP witnesses only: a bearer token sent with every request, from
    /// `{ env = "NAME" }` or `{ file = "/path" }`. Never written in the
    /// configuration itself, never logged or shown.
    pub token: Option<SecretRef>,
}

impl WitnessConfig {
    /// A witness named by URL alone.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            token: None,
        }
    }
}

impl From<String> for WitnessConfig {
    fn from(url: String) -> Self {
        Self::url(url)
    }
}

impl Serialize for WitnessConfig {
    /// A URL string when there is no token (so a configuration of `file://`
    /// witnesses hashes as before); otherwise `{ url, token }`, the token
    /// as where it is read from, never its value.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Source<'a> {
            Env { env: &'a str },
            File { file: &'a Path },
        }
        #[derive(Serialize)]
        struct Table<'a> {
            url: &'a str,
            token: Source<'a>,
        }
        match &self.token {
            None => serializer.serialize_str(&self.url),
            Some(token) => Table {
                url: &self.url,
                token: match token {
                    SecretRef::Env(env) => Source::Env { env },
                    SecretRef::File(file) => Source::File { file },
                },
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for WitnessConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WitnessVisitor)
    }
}

struct WitnessVisitor;

impl<'de> Visitor<'de> for WitnessVisitor {
    type Value = WitnessConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a witness URL, or { url = \"https://...\", token = { env = \"NAME\" } }")
    }

    fn visit_str<E: de::Error>(self, url: &str) -> Result<WitnessConfig, E> {
        Ok(WitnessConfig::url(url))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WitnessConfig, A::Error> {
        let mut url = None;
        let mut token = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "url" if url.is_none() => url = Some(map.next_value::<String>()?),
                "token" if token.is_none() => token = Some(map.next_value::<SecretRef>()?),
                "url" | "token" => {
                    return Err(de::Error::custom(format!("a witness names `{key}` once")));
                }
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown witness key `{other}`: a witness has `url` and, for http(s), `token`"
                    )));
                }
            }
        }
        let url = url.ok_or_else(|| de::Error::custom("a witness table needs a `url`"))?;
        Ok(WitnessConfig { url, token })
    }
}
