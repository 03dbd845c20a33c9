//! Typed, bounds-checked views of the wire formats rampart speaks.
//!
//! Each format follows one contract: `Packet<T: AsRef<[u8]>>` is a zero-copy view whose
//! `new_checked` validates lengths so that no accessor can panic afterwards, and a `Repr`
//! type is the validated form with `parse`, `emit` and `buffer_len`. Protocol numbers
//! are newtypes with named constants, so unknown values survive a round trip.

pub mod checksum;
pub mod esp;
pub mod icmp;
pub mod ike;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

mod error;

pub use error::{Error, ErrorReason, Result};
