//! The ASA policy engine: routes, interface ACLs, NAT and crypto ACLs.
//!
//! One engine serves both the data plane and `packet-tracer`, so the two can never
//! disagree: every decision comes with the trace of phases that produced it.
//!
//! `PolicyEngine::evaluate` classifies the first packet of a flow: un-NAT of a static
//! destination, route lookup, interface ACLs and security levels, NAT, then the crypto
//! map of the egress interface. `XlateTable` keeps the dynamic PAT and NAT state that
//! the data plane applies to every packet, and `tracer` renders a traced decision in
//! the layout of the ASA's `packet-tracer`.

pub mod acl;
pub mod crypto;
pub mod engine;
pub mod error;
pub mod flow;
pub mod model;
pub mod nat;
pub mod route;
pub mod tracer;
pub mod xlate;

pub use engine::{Decision, Phase, PolicyEngine, Translation, VpnMatch};
pub use error::PolicyError;
pub use flow::Flow;
pub use nat::TranslationKind;
pub use xlate::{XlateTable, XlateTimeouts};

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod testutil;
