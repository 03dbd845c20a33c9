//! A sans-IO IKEv2 engine (RFC 7296).
//!
//! The engine is fed datagrams and the current time and returns datagrams to send, the
//! next timer deadline and events (SAs to install or remove, failures). It owns no
//! socket and reads no clock, so tests drive two engines against each other in memory.

pub mod config;
mod crypt;
mod dispatch;
mod engine;
mod failover;
mod event;
mod exchange;
mod identity;
mod nat;
mod proposal;
mod sa;
mod timers;
mod selector;

pub use engine::Engine;
pub use event::{ChildSaInfo, ChildSaKeys, Event, IkeSaInfo, Transmit};
