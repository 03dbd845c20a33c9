//! Golden outputs of every renderer. Set `UPDATE_GOLDEN=1` to rewrite the `.txt`
//! files after an intended layout change, then review the diff.

use std::path::PathBuf;

use rampart_show::model::{IkeSa, IpsecSas, IpsecStats};
use rampart_show::{render_ikev2_sa, render_ipsec_sa, render_ipsec_stats, render_isakmp_sa};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read_json<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = golden_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn check_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert_eq!(actual, expected, "{} differs from the rendered output", path.display());
}

#[test]
fn ipsec_sa_golden() {
    let sas: IpsecSas = read_json("ipsec-sa.json");
    check_golden("ipsec-sa.txt", &render_ipsec_sa(&sas));
}

#[test]
fn ipsec_sa_peer_filter_golden() {
    let mut sas: IpsecSas = read_json("ipsec-sa.json");
    sas.filter_peer("203.0.113.7".parse().unwrap());
    check_golden("ipsec-sa-peer.txt", &render_ipsec_sa(&sas));
}

#[test]
fn ipsec_sa_peer_filter_keeps_only_peer() {
    let mut sas: IpsecSas = read_json("ipsec-sa.json");
    sas.filter_peer("203.0.113.7".parse().unwrap());
    assert_eq!(sas.children.len(), 1);
    assert_eq!(sas.children[0].remote.ip().to_string(), "203.0.113.7");
}

#[test]
fn ipsec_sa_empty() {
    assert_eq!(render_ipsec_sa(&IpsecSas::default()), "There are no ipsec sas\n");
}

#[test]
fn ipsec_sa_unknown_peer_is_empty() {
    let mut sas: IpsecSas = read_json("ipsec-sa.json");
    sas.filter_peer("198.18.0.9".parse().unwrap());
    assert_eq!(render_ipsec_sa(&sas), "There are no ipsec sas\n");
}

#[test]
fn ikev2_sa_golden() {
    let sas: Vec<IkeSa> = read_json("ikev2-sa.json");
    check_golden("ikev2-sa.txt", &render_ikev2_sa(&sas, false));
}

#[test]
fn ikev2_sa_detail_golden() {
    let sas: Vec<IkeSa> = read_json("ikev2-sa.json");
    check_golden("ikev2-sa-detail.txt", &render_ikev2_sa(&sas, true));
}

#[test]
fn ikev2_sa_empty() {
    assert_eq!(render_ikev2_sa(&[], false), "There are no IKEv2 SAs\n");
}

#[test]
fn isakmp_sa_golden() {
    let sas: Vec<IkeSa> = read_json("ikev2-sa.json");
    check_golden("isakmp-sa.txt", &render_isakmp_sa(&sas));
}

#[test]
fn isakmp_sa_empty() {
    assert_eq!(render_isakmp_sa(&[]), "There are no IKEv1 SAs\n\nThere are no IKEv2 SAs\n");
}

#[test]
fn ipsec_stats_golden() {
    let stats: IpsecStats = read_json("ipsec-stats.json");
    check_golden("ipsec-stats.txt", &render_ipsec_stats(&stats));
}

#[test]
fn ipsec_stats_round_trips() {
    let stats: IpsecStats = read_json("ipsec-stats.json");
    let again: IpsecStats = serde_json::from_value(serde_json::to_value(&stats).unwrap()).unwrap();
    assert_eq!(again, stats);
}

#[test]
fn ipsec_sa_round_trips_spis() {
    let sas: IpsecSas = read_json("ipsec-sa.json");
    let value = serde_json::to_value(&sas).unwrap();
    assert_eq!(value["children"][0]["outbound_spi"], "0xC84F1A20");
    assert_eq!(value["children"][0]["inbound"][0]["spi"], "0x32F752FF");
}

#[test]
fn ipsec_sa_rejects_bad_spi() {
    let text = std::fs::read_to_string(golden_dir().join("ipsec-sa.json")).unwrap().replace("0xC84F1A20", "0xZZ");
    let err = serde_json::from_str::<IpsecSas>(&text).unwrap_err();
    assert!(err.to_string().contains("invalid SPI"), "{err}");
}
