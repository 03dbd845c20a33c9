//! SA payloads built from the configuration, and proposal selection (RFC 7296 2.7).
//!
//! As initiator each configured proposal becomes one SA proposal, in priority order.
//! As responder the engine walks its own proposals in priority order and, inside each,
//! its own transform order, and takes the first one the peer also offered: the
//! responder's preference decides, as on an ASA. A peer's KE group wins among the DH
//! groups both sides accept, so an acceptable KE never costs an INVALID_KE_PAYLOAD
//! round trip.

use std::fmt::Write as _;
use std::time::Duration;

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_crypto::keys::IkeSuite;
use rampart_wire::ike::{ESN_NO, ProposalRepr, ProtocolId, SaRepr, TransformRepr, TransformType};

use crate::config::{EspProposal, IkeProposal};

/// The IKE SA algorithms agreed in IKE_SA_INIT or an IKE SA rekey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IkeChosen {
    pub number: u8,
    pub suite: IkeSuite,
    pub dh: DhGroup,
    /// Local lifetime of the configured proposal that matched.
    pub lifetime: Duration,
}

/// Reason the responder could not pick a proposal.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    NoProposalChosen,
    /// A proposal matches but with another DH group than the received KE payload;
    /// the peer is to retry with this group (RFC 7296 section 1.3).
    InvalidKe(DhGroup),
}

/// ESP algorithms agreed for one Child SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EspChosen {
    pub number: u8,
    pub encr: Encr,
    pub integ: Option<Integ>,
    pub dh: Option<DhGroup>,
    /// The SPI the peer will receive on.
    pub peer_spi: u32,
}

fn encr_transform(e: Encr) -> TransformRepr {
    TransformRepr::new(
        TransformType::ENCR,
        e.transform_id(),
        e.key_length_attribute(),
    )
}

fn integ_transform(i: Integ) -> TransformRepr {
    TransformRepr::new(TransformType::INTEG, i.transform_id(), None)
}

fn prf_transform(p: Prf) -> TransformRepr {
    TransformRepr::new(TransformType::PRF, p.transform_id(), None)
}

fn dh_transform(g: DhGroup) -> TransformRepr {
    TransformRepr::new(TransformType::DH, g.transform_id(), None)
}

/// Configured IKE proposals sorted by priority, lowest number first.
pub(crate) fn sorted(proposals: &[IkeProposal]) -> Vec<&IkeProposal> {
    let mut v: Vec<&IkeProposal> = proposals.iter().collect();
    v.sort_by_key(|p| p.priority);
    v
}

/// Returns the DH group of the first KE payload: the first group of the preferred policy, so
/// `group 5 2` sends group 5.
pub(crate) fn first_dh(proposals: &[IkeProposal]) -> Option<DhGroup> {
    sorted(proposals)
        .into_iter()
        .flat_map(|p| p.dh_groups.iter().copied())
        .find(|g| g.is_supported())
}

/// Builds one SA proposal per configured policy. `spi` is set for an IKE SA rekey.
pub(crate) fn ike_offer(proposals: &[IkeProposal], spi: Option<u64>) -> SaRepr {
    let spi = spi.map(|s| s.to_be_bytes().to_vec()).unwrap_or_default();
    let proposals = sorted(proposals)
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut transforms: Vec<TransformRepr> = p
                .encryption
                .iter()
                .copied()
                .filter(|e| *e != Encr::Null)
                .map(encr_transform)
                .collect();
            transforms.extend(p.prf.iter().copied().map(prf_transform));
            if p.encryption.iter().any(|e| !e.is_aead()) {
                transforms.extend(p.integrity.iter().copied().map(integ_transform));
            }
            transforms.extend(
                p.dh_groups
                    .iter()
                    .copied()
                    .filter(|g| g.is_supported())
                    .map(dh_transform),
            );
            ProposalRepr {
                number: (i + 1) as u8,
                protocol_id: ProtocolId::IKE,
                spi: spi.clone(),
                transforms,
            }
        })
        .collect();
    SaRepr { proposals }
}

/// The chosen IKE proposal as the responder returns it.
pub(crate) fn ike_reply(chosen: &IkeChosen, spi: Option<u64>) -> SaRepr {
    let mut transforms = vec![
        encr_transform(chosen.suite.encr),
        prf_transform(chosen.suite.prf),
    ];
    if let Some(i) = chosen.suite.integ {
        transforms.push(integ_transform(i));
    }
    transforms.push(dh_transform(chosen.dh));
    let spi = spi.map(|s| s.to_be_bytes().to_vec()).unwrap_or_default();
    SaRepr {
        proposals: vec![ProposalRepr {
            number: chosen.number,
            protocol_id: ProtocolId::IKE,
            spi,
            transforms,
        }],
    }
}

/// Transform IDs (and key lengths) a proposal offers for one type. Transforms with
/// attributes other than Key Length are left out (RFC 7296 section 3.3.6).
fn offered(p: &ProposalRepr, t: TransformType) -> Vec<(u16, Option<u16>)> {
    p.transforms_of(t)
        .filter(|x| !x.has_unknown_attribute())
        .map(|x| (x.transform_id, x.key_length()))
        .collect()
}

fn pick<T: Copy>(
    ours: &[T],
    theirs: &[(u16, Option<u16>)],
    id: impl Fn(T) -> (u16, Option<u16>),
) -> Option<T> {
    ours.iter().copied().find(|o| theirs.contains(&id(*o)))
}

fn encr_id(e: Encr) -> (u16, Option<u16>) {
    (e.transform_id(), e.key_length_attribute())
}

/// Picks an IKE proposal by our preference (see the module documentation).
pub(crate) fn select_ike(
    ours: &[IkeProposal],
    theirs: &SaRepr,
    ke_group: Option<u16>,
) -> Result<IkeChosen, Reject> {
    let mut invalid_ke = None;
    for mine in sorted(ours) {
        for p in theirs
            .proposals
            .iter()
            .filter(|p| p.protocol_id == ProtocolId::IKE)
        {
            let Some(chosen) = match_ike(mine, p, ke_group) else {
                continue;
            };
            if ke_group == Some(chosen.dh.transform_id()) {
                return Ok(chosen);
            }
            invalid_ke.get_or_insert(chosen.dh);
        }
    }
    Err(invalid_ke.map_or(Reject::NoProposalChosen, Reject::InvalidKe))
}

fn match_ike(mine: &IkeProposal, p: &ProposalRepr, ke_group: Option<u16>) -> Option<IkeChosen> {
    let encr = pick(&mine.encryption, &offered(p, TransformType::ENCR), encr_id)
        .filter(|e| *e != Encr::Null)?;
    let prf = pick(&mine.prf, &offered(p, TransformType::PRF), |x| {
        (x.transform_id(), None)
    })?;
    let integ = if encr.is_aead() {
        None
    } else {
        Some(pick(
            &mine.integrity,
            &offered(p, TransformType::INTEG),
            |x| (x.transform_id(), None),
        )?)
    };
    let their_dh = offered(p, TransformType::DH);
    let supported: Vec<DhGroup> = mine
        .dh_groups
        .iter()
        .copied()
        .filter(|g| g.is_supported())
        .collect();
    let dh = supported
        .iter()
        .copied()
        .find(|g| {
            Some(g.transform_id()) == ke_group && their_dh.contains(&(g.transform_id(), None))
        })
        .or_else(|| pick(&supported, &their_dh, |x| (x.transform_id(), None)))?;
    Some(IkeChosen {
        number: p.number,
        suite: IkeSuite { encr, integ, prf },
        dh,
        lifetime: mine.lifetime,
    })
}

/// Checks the responder's single proposal against what we offered.
pub(crate) fn accept_ike(ours: &[IkeProposal], reply: &SaRepr) -> Option<IkeChosen> {
    let [p] = reply.proposals.as_slice() else {
        return None;
    };
    if p.protocol_id != ProtocolId::IKE {
        return None;
    }
    let single = |t| p.transforms_of(t).count() <= 1;
    if !(single(TransformType::ENCR)
        && single(TransformType::PRF)
        && single(TransformType::INTEG)
        && single(TransformType::DH))
    {
        return None;
    }
    let dh = p
        .transforms_of(TransformType::DH)
        .next()
        .map(|t| t.transform_id);
    sorted(ours)
        .into_iter()
        .find_map(|mine| match_ike(mine, p, dh))
}

/// Builds one ESP proposal per configured proposal. A proposal mixing AEAD and other ciphers
/// is split in two because an AEAD cipher never carries INTEG (RFC 7296 3.3). ESN is
/// always "no". `dh` is set only in CREATE_CHILD_SA, never in IKE_AUTH.
pub(crate) fn esp_offer(proposals: &[EspProposal], spi: u32, dh: Option<DhGroup>) -> SaRepr {
    let mut out = Vec::new();
    for p in proposals {
        let aead: Vec<Encr> = p
            .encryption
            .iter()
            .copied()
            .filter(|e| e.is_aead())
            .collect();
        let plain: Vec<Encr> = p
            .encryption
            .iter()
            .copied()
            .filter(|e| !e.is_aead())
            .collect();
        for (ciphers, integ) in [(aead, &[][..]), (plain, &p.integrity[..])] {
            if ciphers.is_empty() || (!ciphers[0].is_aead() && integ.is_empty()) {
                continue;
            }
            let mut transforms: Vec<TransformRepr> =
                ciphers.into_iter().map(encr_transform).collect();
            transforms.extend(integ.iter().copied().map(integ_transform));
            transforms.extend(dh.map(dh_transform));
            transforms.push(TransformRepr::new(TransformType::ESN, ESN_NO, None));
            out.push(ProposalRepr {
                number: (out.len() + 1) as u8,
                protocol_id: ProtocolId::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms,
            });
        }
    }
    SaRepr { proposals: out }
}

/// The chosen ESP proposal as the responder returns it, with our inbound SPI.
pub(crate) fn esp_reply(chosen: &EspChosen, spi: u32) -> SaRepr {
    let mut transforms = vec![encr_transform(chosen.encr)];
    transforms.extend(chosen.integ.map(integ_transform));
    transforms.extend(chosen.dh.map(dh_transform));
    transforms.push(TransformRepr::new(TransformType::ESN, ESN_NO, None));
    SaRepr {
        proposals: vec![ProposalRepr {
            number: chosen.number,
            protocol_id: ProtocolId::ESP,
            spi: spi.to_be_bytes().to_vec(),
            transforms,
        }],
    }
}

fn peer_spi(p: &ProposalRepr) -> Option<u32> {
    let spi: [u8; 4] = p.spi.as_slice().try_into().ok()?;
    Some(u32::from_be_bytes(spi))
}

/// Picks an ESP proposal by our preference. `dh` is `None` in IKE_AUTH, where a DH
/// transform from a sloppy peer is ignored; in CREATE_CHILD_SA it is the group of the
/// received KE payload (`Some(None)` when there is none). A proposal whose ESN
/// transforms do not include "no" is never chosen.
pub(crate) fn select_esp(
    ours: &[EspProposal],
    pfs: Option<DhGroup>,
    theirs: &SaRepr,
    dh: Option<Option<u16>>,
) -> Result<EspChosen, Reject> {
    let mut invalid_ke = None;
    for mine in ours {
        for p in theirs
            .proposals
            .iter()
            .filter(|p| p.protocol_id == ProtocolId::ESP)
        {
            let Some(spi) = peer_spi(p) else { continue };
            let esn = offered(p, TransformType::ESN);
            if !esn.is_empty() && !esn.contains(&(ESN_NO, None)) {
                continue;
            }
            let Some(encr) = pick(&mine.encryption, &offered(p, TransformType::ENCR), encr_id)
            else {
                continue;
            };
            let integ = if encr.is_aead() {
                None
            } else {
                match pick(&mine.integrity, &offered(p, TransformType::INTEG), |x| {
                    (x.transform_id(), None)
                }) {
                    Some(i) => Some(i),
                    None => continue,
                }
            };
            let their_dh = offered(p, TransformType::DH);
            let group = match dh {
                None => None,
                Some(ke) => match pfs {
                    Some(g) if their_dh.contains(&(g.transform_id(), None)) => {
                        if ke != Some(g.transform_id()) {
                            invalid_ke.get_or_insert(g);
                            continue;
                        }
                        Some(g)
                    }
                    Some(_) => continue,
                    // Without `set pfs` a KE from the peer is still honoured.
                    None => match ke.and_then(DhGroup::from_transform) {
                        Some(g)
                            if their_dh.contains(&(g.transform_id(), None)) && g.is_supported() =>
                        {
                            Some(g)
                        }
                        Some(_) => continue,
                        None if their_dh.is_empty() || their_dh.contains(&(0, None)) => None,
                        None => continue,
                    },
                },
            };
            return Ok(EspChosen {
                number: p.number,
                encr,
                integ,
                dh: group,
                peer_spi: spi,
            });
        }
    }
    Err(invalid_ke.map_or(Reject::NoProposalChosen, Reject::InvalidKe))
}

/// Checks the responder's single ESP proposal against what we offered.
pub(crate) fn accept_esp(
    ours: &[EspProposal],
    reply: &SaRepr,
    dh: Option<DhGroup>,
) -> Option<EspChosen> {
    let [p] = reply.proposals.as_slice() else {
        return None;
    };
    let ke = dh.map(|g| g.transform_id());
    let chosen = select_esp(ours, dh, reply, if dh.is_some() { Some(ke) } else { None }).ok()?;
    (chosen.number == p.number).then_some(chosen)
}

/// Summarizes an SA payload on one line for proposal-mismatch logs, such as
/// `IKE:ENCR_12/256,PRF_2,INTEG_2,DH_5,DH_2`.
pub(crate) fn describe(sa: &SaRepr) -> String {
    let mut s = String::new();
    for (i, p) in sa.proposals.iter().enumerate() {
        if i > 0 {
            s.push_str(" | ");
        }
        let _ = write!(s, "{}:", p.protocol_id);
        for (j, t) in p.transforms.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            let _ = write!(s, "{}_{}", t.transform_type, t.transform_id);
            if let Some(k) = t.key_length() {
                let _ = write!(s, "/{k}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guide_policy() -> IkeProposal {
        IkeProposal {
            priority: 1,
            encryption: vec![Encr::AesCbc { key_bits: 256 }],
            integrity: vec![Integ::HmacSha1_96],
            prf: vec![Prf::HmacSha1],
            dh_groups: vec![DhGroup::Modp1536, DhGroup::Modp1024],
            lifetime: Duration::from_secs(86400),
        }
    }

    fn gcm_esp() -> EspProposal {
        EspProposal {
            name: "gcm".into(),
            encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
            integrity: vec![Integ::HmacSha2_256_128],
        }
    }

    #[test]
    fn ike_select_uses_peer_ke_group() {
        let offer = ike_offer(&[guide_policy()], None);
        let chosen = select_ike(&[guide_policy()], &offer, Some(2)).unwrap();
        assert_eq!(chosen.dh, DhGroup::Modp1024);
    }

    #[test]
    fn ike_select_invalid_ke() {
        let offer = ike_offer(&[guide_policy()], None);
        assert_eq!(
            select_ike(&[guide_policy()], &offer, Some(14)),
            Err(Reject::InvalidKe(DhGroup::Modp1536))
        );
    }

    #[test]
    fn ike_select_no_common() {
        let mut other = guide_policy();
        other.encryption = vec![Encr::AesCbc { key_bits: 128 }];
        let offer = ike_offer(&[other], None);
        assert_eq!(
            select_ike(&[guide_policy()], &offer, Some(5)),
            Err(Reject::NoProposalChosen)
        );
    }

    #[test]
    fn ike_reply_accepted() {
        let chosen = select_ike(
            &[guide_policy()],
            &ike_offer(&[guide_policy()], None),
            Some(5),
        )
        .unwrap();
        assert_eq!(
            accept_ike(&[guide_policy()], &ike_reply(&chosen, None)),
            Some(chosen)
        );
    }

    #[test]
    fn esp_offer_no_integ_with_aead() {
        let offer = esp_offer(&[gcm_esp()], 0xc000_0001, None);
        assert_eq!(
            offer.proposals[0]
                .transforms_of(TransformType::INTEG)
                .count(),
            0
        );
    }

    #[test]
    fn esp_offer_esn_no_only() {
        let offer = esp_offer(&[gcm_esp()], 1, None);
        let esn: Vec<u16> = offer.proposals[0]
            .transforms_of(TransformType::ESN)
            .map(|t| t.transform_id)
            .collect();
        assert_eq!(esn, vec![ESN_NO]);
    }

    #[test]
    fn esp_select_refuses_esn_only() {
        let mut offer = esp_offer(&[gcm_esp()], 1, None);
        for t in &mut offer.proposals[0].transforms {
            if t.transform_type == TransformType::ESN {
                t.transform_id = 1;
            }
        }
        assert_eq!(
            select_esp(&[gcm_esp()], None, &offer, None),
            Err(Reject::NoProposalChosen)
        );
    }

    #[test]
    fn esp_select_ignores_dh_in_ike_auth() {
        let offer = esp_offer(&[gcm_esp()], 7, Some(DhGroup::Modp2048));
        let chosen = select_esp(&[gcm_esp()], Some(DhGroup::Modp2048), &offer, None).unwrap();
        assert_eq!(chosen.dh, None);
    }

    #[test]
    fn esp_select_pfs_invalid_ke() {
        let offer = esp_offer(&[gcm_esp()], 7, Some(DhGroup::Modp2048));
        let r = select_esp(
            &[gcm_esp()],
            Some(DhGroup::Modp2048),
            &offer,
            Some(Some(19)),
        );
        assert_eq!(r, Err(Reject::InvalidKe(DhGroup::Modp2048)));
    }

    #[test]
    fn esp_reply_accepted() {
        let offer = esp_offer(&[gcm_esp()], 7, None);
        let chosen = select_esp(&[gcm_esp()], None, &offer, None).unwrap();
        assert_eq!(
            accept_esp(&[gcm_esp()], &esp_reply(&chosen, 9), None).map(|c| c.peer_spi),
            Some(9)
        );
    }
}
