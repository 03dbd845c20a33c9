//! IKEv2 message encoding (RFC 7296 section 3).
