//! The gateway process: sockets, TUN, netlink, timers and the control socket.
