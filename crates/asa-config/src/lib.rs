//! Cisco ASA CLI parser, diagnostics, checks and lowering.
