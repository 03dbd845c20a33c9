//! The gateway process: sockets, TUN, netlink, timers and the control socket.

pub mod error;
pub mod mtu;
pub mod nat_t;
pub mod netlink;
pub mod options;
pub mod packet;
pub mod privilege;
pub mod raw_esp;
pub mod route_plan;
pub mod routing;
pub mod tun;
pub mod udp;

pub use error::Error;
pub use options::Options;
