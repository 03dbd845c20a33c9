//! The ASA policy engine: routes, interface ACLs, NAT and crypto ACLs.
//!
//! One engine serves both the data plane and `packet-tracer`, so the two can never
//! disagree: every decision comes with the trace of phases that produced it.

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
