//! Errors that stop the gateway from starting or running.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The process lacks a capability that `rampart run` needs.
    #[error("missing {missing}: run rampart as root or grant it CAP_NET_ADMIN and CAP_NET_RAW")]
    Privilege { missing: String },
    /// The configuration has errors; the rendered diagnostics name each file and line.
    #[error("{diagnostics}")]
    Config { diagnostics: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{context}: {message}")]
    Netlink { context: String, message: String },
    /// A setup step failed for a reason that is not an I/O error.
    #[error("{0}")]
    Setup(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }

    pub fn netlink(context: impl Into<String>, error: rtnetlink::Error) -> Error {
        Error::Netlink { context: context.into(), message: error.to_string() }
    }
}
