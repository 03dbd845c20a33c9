//! MTU handling.
