//! `show crypto ipsec stats`.

use std::fmt::Write;

use crate::model::IpsecStats;

/// Renders `show crypto ipsec stats` in the ASA layout. Counters that rampart never
/// increments stay 0, as the ASA prints its unused counters: TFC packets sent (rampart
/// sends no TFC padding), ICMP errors validated against SAs (rampart has no
/// `crypto ipsec icmp-error validation`) and post-fragmentation (the kernel, not
/// rampart, fragments encrypted packets).
pub fn render_ipsec_stats(s: &IpsecStats) -> String {
    let mut out = String::new();
    let i = &s.inbound;
    let o = &s.outbound;
    let _ = writeln!(out, "\nIPsec Global Statistics\n-----------------------");
    let _ = writeln!(out, "Active tunnels: {}", s.active_tunnels);
    let _ = writeln!(out, "Previous tunnels: {}", s.previous_tunnels);

    let _ = writeln!(out, "Inbound");
    let rows: [(&str, u64); 13] = [
        ("Bytes", i.bytes),
        ("Decompressed bytes", i.decompressed_bytes),
        ("Packets", i.packets),
        ("Dropped packets", i.dropped_packets),
        ("Replay failures", i.replay_failures),
        ("Authentications", i.authentications),
        ("Authentication failures", i.authentication_failures),
        ("Decryptions", i.decryptions),
        ("Decryption failures", i.decryption_failures),
        ("TFC Packets", i.tfc_packets),
        ("Decapsulated fragments needing reassembly", i.decapsulated_fragments_needing_reassembly),
        ("Valid ICMP Errors rcvd", i.valid_icmp_errors_rcvd),
        ("Invalid ICMP Errors rcvd", i.invalid_icmp_errors_rcvd),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "    {name}: {value}");
    }

    let _ = writeln!(out, "Outbound");
    let rows: [(&str, u64); 18] = [
        ("    Bytes", o.bytes),
        ("    Uncompressed bytes", o.uncompressed_bytes),
        ("    Packets", o.packets),
        ("    Dropped packets", o.dropped_packets),
        ("    Authentications", o.authentications),
        ("    Authentication failures", o.authentication_failures),
        ("    Encryptions", o.encryptions),
        ("    Encryption failures", o.encryption_failures),
        ("    TFC Packets", o.tfc_packets),
        ("    Fragmentation successes", o.fragmentation_successes),
        ("        Pre-fragmentation successes", o.pre_fragmentation_successes),
        ("        Post-fragmentation successes", o.post_fragmentation_successes),
        ("    Fragmentation failures", o.fragmentation_failures),
        ("        Pre-fragmentation failures", o.pre_fragmentation_failures),
        ("        Post-fragmentation failures", o.post_fragmentation_failures),
        ("    Fragments created", o.fragments_created),
        ("    PMTUs sent", o.pmtus_sent),
        ("    PMTUs rcvd", o.pmtus_rcvd),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "{name}: {value}");
    }

    let _ = writeln!(out, "Protocol failures: {}", s.protocol_failures);
    let _ = writeln!(out, "Missing SA failures: {}", s.missing_sa_failures);
    let _ = writeln!(out, "System capacity failures: {}", s.system_capacity_failures);
    out
}
