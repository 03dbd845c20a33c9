//! Typed, bounds-checked views of IKEv2, ESP, IPv4/IPv6, UDP, TCP and ICMP.
