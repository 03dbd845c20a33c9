use thiserror::Error;

/// A policy that cannot be compiled. Each variant names the element and, where the model
/// records it, its config line.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("access-group on interface {interface:?} refers to access-list {acl:?}, which is not configured; define the access-list or remove the access-group")]
    UnknownAccessGroupAcl { acl: String, interface: String },
    #[error("access-group {acl:?} is bound to interface {interface:?}, which has no nameif; check the interface name")]
    UnknownAccessGroupInterface { acl: String, interface: String },
    #[error("line {line}: route uses interface {interface:?}, which has no nameif; check the interface name")]
    UnknownRouteInterface { interface: String, line: u32 },
    #[error("line {line}: NAT rule uses interface {interface:?}, which has no nameif; check the interface name")]
    UnknownNatInterface { interface: String, line: u32 },
    #[error("line {line}: NAT rule maps to the interface address, but interface {interface:?} has no IP address")]
    NatInterfaceWithoutAddress { interface: String, line: u32 },
    #[error("line {line}: static NAT rule has {real} real and {mapped} mapped address ranges with no addresses in one of them")]
    EmptyNatAddresses { real: usize, mapped: usize, line: u32 },
    #[error("crypto map {map:?} is bound to interface {interface:?}, which has no nameif; check the interface name")]
    UnknownCryptoMapInterface { map: String, interface: String },
    #[error("interface {interface:?} is bound to more than one crypto map ({first:?} and {second:?}); the ASA allows one map per interface")]
    DuplicateCryptoMapInterface { interface: String, first: String, second: String },
}
