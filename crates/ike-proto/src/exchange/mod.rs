//! One module per IKEv2 exchange.

pub(crate) mod auth;
pub(crate) mod child;
pub(crate) mod create_child;
pub(crate) mod informational;
pub(crate) mod init;
