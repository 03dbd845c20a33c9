//! Crypto map classification on the egress interface.
//!
//! Entries are evaluated by ascending sequence number. Within an entry the crypto ACL is
//! first-match: a permit selects this entry (and its Child SA by permit position), a deny
//! or the end of the list moves on to the next entry. Traffic that no entry permits
//! leaves in clear text. Dynamic entries (`ipsec-isakmp dynamic`) serve only as
//! responder templates, so outbound classification skips them.

use std::collections::HashMap;

use crate::acl::{AclMatch, CompiledAcl};
use crate::error::PolicyError;
use crate::flow::Flow;
use crate::model::{Action, CryptoMapEntry, PolicyConfig};

/// A crypto map entry that permitted a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CryptoMatch {
    /// Index into `PolicyConfig::crypto_maps`.
    pub map_index: usize,
    /// Index into that map's `entries`.
    pub entry_index: usize,
    pub acl_match: AclMatch,
    /// False when the entry lacks a peer or a proposal; the ASA drops such traffic.
    pub complete: bool,
}

/// The crypto maps' decision, with the entries whose ACL denied the flow on the way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CryptoDecision {
    pub matched: Option<CryptoMatch>,
    /// `(entry index, ACL entry index)` of every entry skipped by an explicit deny.
    pub denied_by: Vec<(usize, usize)>,
    /// Index into `PolicyConfig::crypto_maps` of the map on the egress interface.
    pub map_index: Option<usize>,
}

/// The crypto map bound to each interface, entries in sequence order.
#[derive(Clone, Debug, Default)]
pub struct CryptoTable {
    /// Interface name -> (map index, entry indices sorted by sequence).
    by_interface: HashMap<String, (usize, Vec<usize>)>,
}

impl CryptoTable {
    pub fn new(config: &PolicyConfig) -> Result<CryptoTable, PolicyError> {
        let mut by_interface: HashMap<String, (usize, Vec<usize>)> = HashMap::new();
        for (map_index, map) in config.crypto_maps.iter().enumerate() {
            let Some(interface) = &map.interface else {
                continue;
            };
            if !config.interfaces.iter().any(|i| &i.name == interface) {
                return Err(PolicyError::UnknownCryptoMapInterface { map: map.name.clone(), interface: interface.clone() });
            }
            if let Some((other, _)) = by_interface.get(interface) {
                return Err(PolicyError::DuplicateCryptoMapInterface {
                    interface: interface.clone(),
                    first: config.crypto_maps[*other].name.clone(),
                    second: map.name.clone(),
                });
            }
            let mut order: Vec<usize> = (0..map.entries.len()).collect();
            order.sort_by_key(|&i| map.entries[i].sequence);
            by_interface.insert(interface.clone(), (map_index, order));
        }
        Ok(CryptoTable { by_interface })
    }

    /// Classify a post-NAT flow leaving through `egress`.
    pub fn classify(
        &self,
        config: &PolicyConfig,
        acls: &HashMap<String, CompiledAcl>,
        egress: &str,
        flow: &Flow,
    ) -> CryptoDecision {
        let Some((map_index, order)) = self.by_interface.get(egress) else {
            return CryptoDecision::default();
        };
        let map = &config.crypto_maps[*map_index];
        let mut decision = CryptoDecision { map_index: Some(*map_index), ..CryptoDecision::default() };
        for &entry_index in order {
            let entry = &map.entries[entry_index];
            if entry.dynamic.is_some() {
                continue;
            }
            // NOTE: an entry without `match address`, or naming an ACL that does not
            // exist, can match nothing, so it never protects or drops traffic.
            let Some(acl) = entry.acl.as_ref().and_then(|name| acls.get(name)) else {
                continue;
            };
            match acl.lookup(flow) {
                Some(m) if m.action == Action::Permit => {
                    decision.matched = Some(CryptoMatch {
                        map_index: *map_index,
                        entry_index,
                        acl_match: m,
                        complete: is_complete(entry),
                    });
                    return decision;
                }
                Some(m) => decision.denied_by.push((entry_index, m.entry)),
                None => {}
            }
        }
        decision
    }
}

/// True when a static entry can protect traffic: it names an ACL, a peer and a proposal.
fn is_complete(entry: &CryptoMapEntry) -> bool {
    entry.acl.is_some() && !entry.peers.is_empty() && !entry.proposals.is_empty()
}
