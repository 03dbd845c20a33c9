//! The `show crypto ...` documents of the control socket, built from the IKE engine,
//! the SA tables and the configuration (the model is `rampart_show::model`).

use std::time::Instant;

use rampart_ike::{ChildSaInfo, IkeSaInfo};
use rampart_ike::Engine;
use rampart_show::model::{IkeChild, IkeSa, IpsecSas};

use crate::sa_table::{self, SaTables};
use crate::shared::PolicyState;

/// Builds `show crypto ikev2 sa`: every IKE SA with its Child SAs, without key material.
pub fn ike_sas(engine: &Engine, now: Instant) -> Vec<IkeSa> {
    engine.ike_sas(now).iter().map(ike_sa).collect()
}

/// Converts the engine's snapshot. An SA still in IKE_SA_INIT has no suite yet, so
/// its algorithm fields are empty and its group 0.
fn ike_sa(sa: &IkeSaInfo) -> IkeSa {
    let negotiated = sa.negotiated;
    IkeSa {
        peer: sa.peer,
        peer_name: sa.peer_name.clone(),
        unique_id: sa.unique_id,
        local: sa.local,
        remote: sa.remote,
        initiator: sa.initiator,
        spi_i: sa.spi_i,
        spi_r: sa.spi_r,
        state: sa.state.clone(),
        encr: if negotiated { sa.encr.name().to_string() } else { String::new() },
        encr_key_bits: if negotiated { sa.encr.key_length_attribute().unwrap_or(0) } else { 0 },
        integ: sa.integ.filter(|_| negotiated).map(|i| i.name().to_string()),
        prf: if negotiated { sa.prf.name().to_string() } else { String::new() },
        dh_group: if negotiated { sa.dh_group.transform_id() } else { 0 },
        local_id: sa.local_id.clone(),
        remote_id: sa.remote_id.clone(),
        lifetime_secs: sa.lifetime_secs,
        established_secs: sa.established_secs,
        nat_detected_local: sa.nat_detected_local,
        nat_detected_remote: sa.nat_detected_remote,
        next_message_id: sa.next_message_id,
        peer_message_id: sa.peer_message_id,
        children: sa.children.iter().map(ike_child).collect(),
    }
}

fn ike_child(c: &ChildSaInfo) -> IkeChild {
    let selectors = |ts| sa_table::selectors(ts).iter().map(sa_table::show_selector).collect();
    IkeChild {
        child: c.child,
        spi_in: c.spi_in,
        spi_out: c.spi_out,
        local_ts: selectors(&c.local_ts),
        remote_ts: selectors(&c.remote_ts),
        encr: c.encr.name().to_string(),
        encr_key_bits: c.encr.key_length_attribute().unwrap_or(0),
        integ: c.integ.map(|i| i.name().to_string()),
        pfs_group: c.pfs_group.map(|g| g.transform_id()),
        lifetime_secs: c.lifetime_secs,
        established_secs: c.established_secs,
    }
}

/// Builds `show crypto ipsec sa`: the SA tables' children, completed with the crypto map
/// entry and ACE of the configuration and the lifetimes that the IKE engine enforces.
///
/// The data plane enforces no lifetime of its own (the engine rekeys), so the
/// remaining seconds are the engine's negotiated lifetime less the SA's age, and the
/// remaining kilobytes the configured `lifetime kilobytes` less the octets carried.
pub fn ipsec_sas(tables: &SaTables, engine: &Engine, policy: &PolicyState, now: Instant) -> IpsecSas {
    let mut sas = tables.snapshot(now);
    let ike_sas = engine.ike_sas(now);
    let config = engine.config();
    for child in &mut sas.children {
        child.media_mtu = policy.outside_mtu;
        let child_config = config.peers.get(child.peer_index).and_then(|p| p.children.get(child.child_index));
        let lifetime_kb = child_config.map_or(0, |c| c.lifetime_kilobytes);
        if let Some(c) = child_config {
            child.crypto_map = c.crypto_map.clone();
            child.sequence = c.sequence;
            child.ace = c.ace.clone();
            child.interface = crypto_map_interface(policy, &c.crypto_map);
        }
        let remaining_kb = |bytes: u64| (lifetime_kb > 0).then(|| lifetime_kb.saturating_sub(bytes / 1024));

        let outbound_spi = child.outbound_spi;
        let owner = ike_sas
            .iter()
            .find_map(|sa| sa.children.iter().find(|c| c.spi_out == outbound_spi).map(|c| (sa.unique_id, c)));
        if let Some((unique_id, info)) = owner {
            child.ike_sa_id = unique_id;
            child.pfs_group = info.pfs_group.map(|g| g.transform_id());
        }
        if let Some(out) = &mut child.outbound {
            out.remaining_kb = remaining_kb(out.bytes);
            out.remaining_secs = owner.map(|(_, info)| remaining_secs(info));
        }
        for sa in &mut child.inbound {
            let info = ike_sas.iter().flat_map(|ike| &ike.children).find(|c| c.spi_in == sa.spi);
            sa.remaining_kb = remaining_kb(sa.bytes);
            sa.remaining_secs = info.map(remaining_secs);
        }
    }
    sas
}

fn remaining_secs(info: &ChildSaInfo) -> u64 {
    info.lifetime_secs.saturating_sub(info.established_secs)
}

/// Looks up the `nameif` of the interface that crypto map `map` is applied to.
fn crypto_map_interface(policy: &PolicyState, map: &str) -> String {
    policy
        .engine
        .config()
        .crypto_maps
        .iter()
        .find(|m| m.name == map)
        .and_then(|m| m.interface.clone())
        .unwrap_or_default()
}
