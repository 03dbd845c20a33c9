//! ESP (RFC 4303) tunnel-mode data plane as a library: security associations, the
//! SA database, anti-replay, selector checks and MTU handling.
//!
//! The library does no I/O. The daemon reads inner packets from the TUN device and ESP
//! packets from the outside sockets. It calls [`Sad::encapsulate`] and
//! [`Sad::decapsulate`] on buffers it owns, and neither call allocates.

mod drop;
pub mod mtu;
pub mod replay;
pub mod sa;
pub mod sad;
pub mod selector;
pub mod stats;

pub use drop::DropReason;
pub use sa::{Decapsulated, InboundSa, Lifetime, LifetimeState, OutboundSa, SaInfo, SaParams};
pub use sad::{ChildHandle, ChildKey, LifetimeEvent, Received, Sad, SadError};
pub use selector::{Flow, Selector};
pub use stats::{Direction, IpsecStats, SaCounters};
