//! `[intake.syslog] listen` entries: `udp://HOST:PORT`, `tcp://HOST:PORT`,
//! `tls://HOST:PORT` (an IPv6 host in brackets: `udp://[::]:514`).

use std::fmt;
use std::str::FromStr;

/// How a listener takes messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The URL scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// One `listen` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddr {
    pub transport: Transport,
    /// `HOST:PORT`, as given (a name is resolved when binding).
    pub host_port: String,
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.transport.scheme(), self.host_port)
    }
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text.split_once("://").ok_or_else(|| {
            format!("{text:?} is not udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT")
        })?;
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            other => {
                return Err(format!(
                    "{text:?}: unknown transport {other:?} (udp, tcp or tls)"
                ));
            }
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{text:?}: no port (HOST:PORT)"))?;
        if host.is_empty() || host.contains('/') {
            return Err(format!(
                "{text:?}: no host (HOST:PORT; 0.0.0.0 for every address)"
            ));
        }
        if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
            return Err(format!(
                "{text:?}: an IPv6 host goes in brackets ([::1]:514)"
            ));
        }
        port.parse::<u16>()
            .map_err(|_| format!("{text:?}: the port {port:?} is not a number from 0 to 65535"))?;
        Ok(Self {
            transport,
            host_port: rest.to_owned(),
        })
    }
}
