//! The ASA policy engine: routes, interface ACLs, NAT and crypto ACLs.
//!
//! One engine serves both the data plane and `packet-tracer`, so the two can never
//! disagree: every decision comes with the trace of phases that produced it.

pub mod model;
