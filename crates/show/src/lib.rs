//! rampart's `show crypto ...` commands: the JSON model that the gateway's control
//! socket returns, and its rendering in the Cisco ASA 9.x text layout.
//!
//! Rendering is a pure function of the model, so the layout is tested without a
//! running gateway. The layouts follow ASA 9.x output as parsed by the community
//! TextFSM templates (ntc-templates' `cisco_asa_show_crypto_ipsec_sa`).

pub mod model;

mod ikev2;
mod ipsec;
mod names;
mod stats;

pub use ikev2::{render_ikev2_sa, render_isakmp_sa};
pub use ipsec::render_ipsec_sa;
pub use stats::render_ipsec_stats;
