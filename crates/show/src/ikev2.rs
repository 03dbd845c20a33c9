//! `show crypto ikev2 sa [detail]` and `show crypto isakmp sa`.

use std::fmt::Write;

use crate::model::{IkeChild, IkeSa, Selector};
use crate::names;

/// Renders `show crypto ikev2 sa`, or with `detail` `show crypto ikev2 sa detail`.
///
/// IKE SAs to the same remote gateway of the same crypto map entry form one session,
/// as on the ASA, where a rekey briefly shows `IKE count:2`.
pub fn render_ikev2_sa(sas: &[IkeSa], detail: bool) -> String {
    if sas.is_empty() {
        return "There are no IKEv2 SAs\n".to_string();
    }
    let mut out = String::from("IKEv2 SAs:\n\n");
    for session in sessions(sas) {
        write_session(&mut out, &session, detail, true);
    }
    out
}

/// Renders `show crypto isakmp sa`. rampart has no IKEv1, so the IKEv1 part is always
/// empty. The IKEv2 part lists the IKE SAs without their Child SAs, as the ASA does.
pub fn render_isakmp_sa(sas: &[IkeSa]) -> String {
    let mut out = String::from("There are no IKEv1 SAs\n\n");
    if sas.is_empty() {
        out.push_str("There are no IKEv2 SAs\n");
        return out;
    }
    out.push_str("IKEv2 SAs:\n\n");
    for session in sessions(sas) {
        write_session(&mut out, &session, false, false);
    }
    out
}

/// Groups IKE SAs by crypto map entry and remote gateway, in order of first appearance.
fn sessions(sas: &[IkeSa]) -> Vec<Vec<&IkeSa>> {
    let mut sessions: Vec<Vec<&IkeSa>> = Vec::new();
    for sa in sas {
        match sessions.iter_mut().find(|s| s[0].peer == sa.peer && s[0].remote.ip() == sa.remote.ip()) {
            Some(session) => session.push(sa),
            None => sessions.push(vec![sa]),
        }
    }
    sessions
}

/// Session status: UP-ACTIVE once an IKE SA is established, UP-IN-NEG while the first
/// one negotiates and DELETE while the last ones are deleted.
fn session_status(session: &[&IkeSa]) -> &'static str {
    if session.iter().any(|sa| sa.state == "READY" || sa.state == "REKEYING") {
        "UP-ACTIVE"
    } else if session.iter().any(|sa| sa.state == "CONNECTING") {
        "UP-IN-NEG"
    } else {
        "DELETE"
    }
}

/// Tunnel status column: an SA being rekeyed still carries traffic, so it is READY.
fn tunnel_status(state: &str) -> &'static str {
    match state {
        "READY" | "REKEYING" => "READY",
        "CONNECTING" => "IN-NEG",
        _ => "DELETE",
    }
}

fn write_session(out: &mut String, session: &[&IkeSa], detail: bool, children: bool) {
    let child_count: usize = session.iter().map(|sa| sa.children.len()).sum();
    let session_id = session.iter().map(|sa| sa.unique_id).min().unwrap_or(0);
    let _ = writeln!(
        out,
        "Session-id:{session_id}, Status:{}, IKE count:{}, CHILD count:{child_count}\n",
        session_status(session),
        session.len()
    );
    let _ = writeln!(out, "{:<26}{:<22}{:<22}{:<15}Role", "Tunnel-id", "Local", "Remote", "Status");
    for sa in session {
        write_ike_sa(out, sa, session_id, detail);
        if children {
            for child in &sa.children {
                write_child(out, child, detail);
            }
        }
    }
    out.push('\n');
}

fn write_ike_sa(out: &mut String, sa: &IkeSa, session_id: u64, detail: bool) {
    let role = if sa.initiator { "INITIATOR" } else { "RESPONDER" };
    let _ = writeln!(
        out,
        "{:<26}{:<22}{:<22}{:<15}{role}",
        sa.unique_id,
        endpoint(sa.local),
        endpoint(sa.remote),
        tunnel_status(&sa.state)
    );
    if sa.encr.is_empty() {
        // NOTE: this wording for an SA without a suite follows Cisco IOS IKEv2 output.
        // The ASA's wording for it is unconfirmed.
        let _ = writeln!(
            out,
            "      Encr: Unknown, keysize: 0, Hash: Unknown, DH Grp:0, Auth sign: Unknown, Auth verify: Unknown"
        );
    } else {
        let _ = writeln!(
            out,
            "      Encr: {}, keysize: {}, Hash: {}, DH Grp:{}, Auth sign: PSK, Auth verify: PSK",
            names::ike_encr(&sa.encr),
            sa.encr_key_bits,
            names::ike_hash(sa.integ.as_deref()),
            sa.dh_group
        );
    }
    let _ = writeln!(out, "      Life/Active Time: {}/{} sec", sa.lifetime_secs, sa.established_secs);
    if detail {
        write_ike_sa_detail(out, sa, session_id);
    }
}

/// Writes the lines that `detail` adds to an IKE SA.
fn write_ike_sa_detail(out: &mut String, sa: &IkeSa, session_id: u64) {
    let description = match sa.state.as_str() {
        "READY" => "Negotiation done",
        "REKEYING" => "Rekey in progress",
        "CONNECTING" => "Negotiation in progress",
        _ => "Deleting",
    };
    let (local_spi, remote_spi) = if sa.initiator { (sa.spi_i, sa.spi_r) } else { (sa.spi_r, sa.spi_i) };
    let _ = writeln!(out, "      Session-id: {session_id}");
    let _ = writeln!(out, "      Status Description: {description}");
    let _ = writeln!(out, "      Local spi: {local_spi:016X}       Remote spi: {remote_spi:016X}");
    let _ = writeln!(out, "      Local id: {}", none_if_empty(&sa.local_id));
    let _ = writeln!(out, "      Remote id: {}", none_if_empty(&sa.remote_id));
    let _ = writeln!(out, "      {:<33}Remote next mess id: {}", format!("Local next mess id: {}", sa.next_message_id), sa.peer_message_id);
    // rampart sends no SET_WINDOW_SIZE and keeps one request outstanding, so both
    // windows are the default of 1 (RFC 7296 section 2.3).
    let _ = writeln!(out, "      {:<33}Remote window: 1", "Local window: 1");
    let nat = match (sa.nat_detected_local, sa.nat_detected_remote) {
        (false, false) => "NAT-T is not detected".to_string(),
        (true, false) => "NAT-T is detected inside".to_string(),
        (false, true) => "NAT-T is detected outside".to_string(),
        (true, true) => "NAT-T is detected inside and outside".to_string(),
    };
    let _ = writeln!(out, "      {nat}");
}

fn write_child(out: &mut String, child: &IkeChild, detail: bool) {
    for (i, (local, remote)) in child.local_ts.iter().zip(&child.remote_ts).enumerate() {
        let lead = if i == 0 { "Child sa: " } else { "          " };
        let _ = writeln!(out, "{lead}local selector  {}", selector(local));
        let _ = writeln!(out, "          remote selector {}", selector(remote));
    }
    let _ = writeln!(out, "          ESP spi in/out: 0x{:x}/0x{:x}", child.spi_in, child.spi_out);
    if !detail {
        return;
    }
    // rampart negotiates neither AH nor IPComp, so their SPIs and CPIs are 0.
    let _ = writeln!(out, "          AH spi in/out: 0x0/0x0");
    let _ = writeln!(out, "          CPI in/out: 0x0/0x0");
    let _ = writeln!(
        out,
        "          Encr: {}, keysize: {}, esp_hmac: {}",
        names::ike_encr(&child.encr),
        child.encr_key_bits,
        names::ike_hash(child.integ.as_deref())
    );
    let _ = writeln!(out, "          ah_hmac: None, comp: IPCOMP_NONE, mode tunnel");
}

/// Identities are empty until IKE_AUTH completes.
fn none_if_empty(id: &str) -> &str {
    if id.is_empty() { "none" } else { id }
}

fn endpoint(addr: std::net::SocketAddr) -> String {
    format!("{}/{}", addr.ip(), addr.port())
}

/// Formats a selector as the ASA prints it: `10.1.0.0/0 - 10.1.255.255/65535`.
fn selector(s: &Selector) -> String {
    format!("{}/{} - {}/{}", s.start_addr, s.start_port, s.end_addr, s.end_port)
}
