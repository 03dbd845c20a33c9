//! A sans-IO IKEv2 engine (RFC 7296).
//!
//! The engine is fed datagrams and the current time and returns datagrams to send, the
//! next timer deadline and events (SAs to install or remove, failures). It owns no
//! socket and reads no clock, so tests drive two engines against each other in memory.
//!
//! Layout: [`Engine`] (`engine.rs`) holds the SA table and the public API;
//! `dispatch.rs` checks message IDs, decrypts and reassembles; one module per exchange
//! in `exchange/` (`init`, `auth`, `child`, `create_child`, `informational`) with
//! strongSwan-style `build_i`/`process_r`/`process_i` steps; `timers.rs` and
//! `failover.rs` handle retransmission, DPD, rekey deadlines, keepalives and the move
//! between a crypto map entry's peers. Message encoding lives in `rampart_wire::ike`.
//!
//! Tests: `cargo test -p rampart-ike` runs the unit tests and the engine-pair tests
//! in `tests/` over `rampart-testkit`'s simulated network. `examples/udp_peer.rs`
//! drives the engine over real sockets for manual runs against strongSwan in the lab
//! namespaces, and `examples/bench.rs` measures handshakes per second and memory per
//! SA. Fuzz targets for the decoder and the engine live in the repository's `fuzz/`.

pub mod config;
mod crypt;
mod dispatch;
mod engine;
mod event;
mod exchange;
mod failover;
mod identity;
mod nat;
mod proposal;
mod sa;
mod selector;
mod timers;

pub use engine::Engine;
pub use event::{ChildSaInfo, ChildSaKeys, Event, IkeSaInfo, Transmit};
