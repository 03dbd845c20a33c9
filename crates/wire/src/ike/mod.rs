//! IKEv2 message encoding (RFC 7296 section 3, RFC 7383 for fragments).
//!
//! [`Header`] is a zero-copy view of the fixed 28-octet IKE header. Payloads are parsed
//! into owned `*Repr` values by [`parse_chain`] and written back by [`emit_chain`]; both
//! follow the generic payload header's Next Payload links. The Encrypted (SK) and
//! Encrypted Fragment (SKF) payloads stay opaque here: the engine decrypts their body
//! and parses the inner chain with [`parse_chain`], starting from the type the SK
//! payload header names.

mod constants;
mod cp;
mod delete;
mod header;
mod id;
mod message;
mod notify;
mod payload;
mod reader;
mod sa;
mod simple;
mod sk;
mod ts;

pub use constants::*;
pub use cp::{CpAttribute, CpRepr};
pub use delete::DeleteRepr;
pub use header::{HEADER_LEN, Header, HeaderRepr};
pub use id::IdRepr;
pub use message::MessageRepr;
pub use notify::NotifyRepr;
pub use payload::{GENERIC_HEADER_LEN, Payload, chain_len, chain_to_vec, emit_chain, parse_chain};
pub use sa::{ProposalRepr, SaRepr, TransformAttribute, TransformRepr};
pub use simple::{AuthRepr, KeRepr};
pub use sk::{SKF_FIXED_LEN, SkRepr, SkfRepr};
pub use ts::{TrafficSelectorRepr, TsRepr};
