//! The gateway process: sockets, TUN, netlink, timers and the control socket.
//!
//! Threads: the control plane owns the IKE engine; one outbound worker per TUN queue
//! encrypts; the inbound workers decrypt what arrives on UDP 4500 and IP protocol 50;
//! small threads receive UDP 500, signals and control-socket commands.

pub mod clear_path;
pub mod config;
pub mod control;
pub mod control_plane;
pub mod error;
pub mod esp_batch;
pub mod gateway;
pub mod gro;
pub mod gso;
pub mod inbound;
pub mod memory;
pub mod nat_t;
pub mod netlink;
pub mod options;
pub mod order;
pub mod outbound;
pub mod packet;
pub mod pmtu;
pub mod privilege;
pub mod raw_esp;
pub mod route_plan;
pub mod routing;
pub mod sa_table;
pub mod shared;
pub mod show;
pub mod signals;
pub mod tun;
pub mod udp;

pub use error::Error;
pub use gateway::run;
pub use options::Options;
