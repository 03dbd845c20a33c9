//! Path MTU handling for tunnelled packets, as the ASA does it by default:
//!
//! - `crypto ipsec fragmentation before-encryption`: an IPv4 packet with DF clear that
//!   does not fit is fragmented before encryption, so the peer needs no reassembly of
//!   ESP packets;
//! - an IPv4 packet with DF set that does not fit is dropped, and the sender gets an
//!   ICMP "fragmentation needed" with the largest inner size that fits (RFC 1191). An
//!   IPv6 sender gets "packet too big" (RFC 4443 section 3.2);
//! - the outer header copies DF from the inner one (`DF policy: copy-df`);
//! - `sysopt connection tcpmss N` lowers the MSS option of TCP SYNs.

use std::net::{Ipv4Addr, Ipv6Addr};

use rampart_crypto::alg::{Encr, Integ};
use rampart_wire::icmp::{self, Icmpv6Repr};
use rampart_wire::ipv4::{self, IpProtocol};
use rampart_wire::{esp, ipv6, tcp};

use crate::sa::OutboundSa;
use crate::DropReason;

/// The ASA's default for `sysopt connection tcpmss`.
pub const DEFAULT_TCP_MSS: u16 = 1380;

/// Largest ICMPv4 error message, IP header included (RFC 1812 section 4.3.2.3).
const ICMPV4_ERROR_MAX: usize = 576;
const UDP_HEADER_LEN: usize = 8;

/// Octets that tunnel mode adds to an inner packet for one SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overhead {
    /// Outer IP header: 20 for IPv4, 40 for IPv6.
    pub outer_ip: usize,
    /// UDP header for ESP in UDP (RFC 3948), else 0.
    pub udp: usize,
    pub iv: usize,
    pub icv: usize,
    /// Padding alignment: 16 for AES-CBC, 4 otherwise.
    pub block: usize,
}

impl Overhead {
    pub fn new(encr: Encr, integ: Option<Integ>, udp_encap: bool, outer_ipv6: bool) -> Overhead {
        let icv = if encr.is_aead() { encr.aead_icv_len() } else { integ.map_or(0, |i| i.icv_len()) };
        Overhead {
            outer_ip: if outer_ipv6 { ipv6::HEADER_LEN } else { ipv4::HEADER_LEN },
            udp: if udp_encap { UDP_HEADER_LEN } else { 0 },
            iv: encr.iv_len(),
            icv,
            block: encr.block_len(),
        }
    }

    /// Overhead of an installed outbound SA.
    pub fn for_sa(sa: &OutboundSa) -> Overhead {
        let info = sa.info();
        Overhead::new(info.encr, info.integ, info.udp_encap, info.remote.is_ipv6())
    }

    /// Octets added with no padding.
    pub const fn fixed(&self) -> usize {
        self.outer_ip + self.udp + esp::HEADER_LEN + self.iv + esp::TRAILER_LEN + self.icv
    }

    /// Octets added in the worst case (maximum padding): the "ipsec overhead" of
    /// `show crypto ipsec sa`.
    pub const fn worst_case(&self) -> usize {
        self.fixed() + self.block - 1
    }

    /// Returns the largest inner packet length whose outer packet fits in `path_mtu`.
    /// Payload and trailer must fill whole blocks, so the space left after the fixed
    /// headers is rounded down to a block, and the trailer is taken off.
    pub const fn max_inner_len(&self, path_mtu: usize) -> usize {
        let fixed_without_trailer = self.fixed() - esp::TRAILER_LEN;
        if path_mtu < fixed_without_trailer + self.block {
            return 0;
        }
        let available = path_mtu - fixed_without_trailer;
        available / self.block * self.block - esp::TRAILER_LEN
    }
}

/// Treatment of an outbound inner packet before encapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtuAction {
    /// The packet fits, or its outer packet may be fragmented by the kernel.
    Send,
    /// An IPv4 packet with DF clear: fragment it with [`Ipv4Fragmenter`] to
    /// `max_len` octets per fragment and encapsulate each fragment.
    Fragment { max_len: usize },
    /// Drop the packet and send the sender [`icmp_frag_needed`] (IPv4) or
    /// [`icmpv6_packet_too_big`] (IPv6) with `mtu`.
    TooBig { mtu: u16 },
}

/// Decides how an inner packet of the given length passes an SA whose largest inner
/// packet is `max_inner`. With `fragment_before_encryption` false (`crypto ipsec
/// fragmentation after-encryption`), DF-clear packets are sent whole and the kernel
/// fragments the outer packet.
pub fn check(inner: &[u8], max_inner: usize, fragment_before_encryption: bool) -> MtuAction {
    if inner.len() <= max_inner {
        return MtuAction::Send;
    }
    match inner.first().map(|b| b >> 4) {
        Some(4) => {
            let df = inner.len() >= 8 && inner[6] & 0x40 != 0;
            if df {
                MtuAction::TooBig { mtu: max_inner.min(usize::from(u16::MAX)) as u16 }
            } else if fragment_before_encryption {
                MtuAction::Fragment { max_len: max_inner }
            } else {
                MtuAction::Send
            }
        }
        // IPv6 never fragments in transit (RFC 8200 section 5). Below the IPv6 minimum
        // MTU a "packet too big" cannot help, so the outer packet is fragmented instead.
        Some(6) if max_inner >= ipv6::MIN_MTU => MtuAction::TooBig { mtu: max_inner.min(usize::from(u16::MAX)) as u16 },
        _ => MtuAction::Send,
    }
}

/// Returns the DF bit to copy into the outer IPv4 header (`DF policy: copy-df`). An
/// IPv6 inner packet yields false, so the outer packet may be fragmented when it
/// exceeds a path MTU below 1280.
pub fn dont_fragment(inner: &[u8]) -> bool {
    inner.first().is_some_and(|b| b >> 4 == 4) && inner.len() >= 8 && inner[6] & 0x40 != 0
}

/// Splits one IPv4 packet into fragments of at most `max_len` octets (RFC 791
/// section 3.2), writing one fragment per call into a caller buffer.
///
/// Every fragment's data length except the last is a multiple of 8. Options with the
/// copied flag set are repeated in every fragment; all options go into the first. A
/// packet that is itself a fragment keeps its offset and MF bit in the last piece.
#[derive(Debug)]
pub struct Ipv4Fragmenter<'a> {
    packet: &'a [u8],
    header_len: usize,
    /// Options repeated in later fragments, padded to a multiple of 4 with End of List.
    copied_options: [u8; 40],
    copied_len: usize,
    max_len: usize,
    /// Octets of the original payload already emitted.
    done: usize,
    payload_len: usize,
    base_offset: usize,
    base_more_frags: bool,
    finished: bool,
}

impl<'a> Ipv4Fragmenter<'a> {
    /// Prepares to fragment `packet`. Fails when it is not a valid IPv4 packet, has DF
    /// set, or `max_len` leaves no room for 8 octets of data.
    pub fn new(packet: &'a [u8], max_len: usize) -> Result<Ipv4Fragmenter<'a>, DropReason> {
        let p = ipv4::Packet::new_checked(packet).map_err(|_| DropReason::BadInnerPacket)?;
        if p.dont_frag() {
            return Err(DropReason::FragmentationFailed);
        }
        let header_len = p.header_len();
        // A fragment whose data would end past octet 65535 of the original datagram
        // cannot exist (RFC 791: the total length is 16 bits).
        if usize::from(p.frag_offset()) + p.payload().len() > usize::from(u16::MAX) {
            return Err(DropReason::BadInnerPacket);
        }

        let mut copied_options = [0u8; 40];
        let mut copied_len = 0;
        let options = p.options();
        let mut i = 0;
        while i < options.len() {
            let kind = options[i];
            let len = match kind {
                0 => break,
                1 => 1,
                _ => match options.get(i + 1) {
                    Some(&l) if l >= 2 && i + usize::from(l) <= options.len() => usize::from(l),
                    _ => return Err(DropReason::BadInnerPacket),
                },
            };
            if ipv4::option_copied(kind) {
                copied_options[copied_len..copied_len + len].copy_from_slice(&options[i..i + len]);
                copied_len += len;
            }
            i += len;
        }
        let copied_len = copied_len.div_ceil(4) * 4;

        let later_header = ipv4::HEADER_LEN + copied_len;
        if max_len < header_len.max(later_header) + 8 {
            return Err(DropReason::FragmentationFailed);
        }
        Ok(Ipv4Fragmenter {
            packet: &packet[..usize::from(p.total_len())],
            header_len,
            copied_options,
            copied_len,
            max_len,
            done: 0,
            payload_len: p.payload().len(),
            base_offset: usize::from(p.frag_offset()),
            base_more_frags: p.more_frags(),
            finished: false,
        })
    }

    /// Number of fragments the packet yields.
    pub fn fragment_count(&self) -> usize {
        let first = (self.max_len - self.header_len) / 8 * 8;
        if self.payload_len <= first {
            return 1;
        }
        let later = (self.max_len - ipv4::HEADER_LEN - self.copied_len) / 8 * 8;
        1 + (self.payload_len - first).div_ceil(later)
    }

    /// Writes the next fragment into `out` and returns its length, or `None` when every
    /// fragment was written.
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<Result<usize, DropReason>> {
        if self.finished {
            return None;
        }
        let first = self.done == 0;
        let header_len = if first { self.header_len } else { ipv4::HEADER_LEN + self.copied_len };
        let room = (self.max_len - header_len) / 8 * 8;
        let data_len = room.min(self.payload_len - self.done);
        let last = self.done + data_len >= self.payload_len;
        let total = header_len + data_len;
        let Some(out) = out.get_mut(..total) else { return Some(Err(DropReason::BufferTooSmall)) };

        out[..ipv4::HEADER_LEN].copy_from_slice(&self.packet[..ipv4::HEADER_LEN]);
        if first {
            out[ipv4::HEADER_LEN..header_len].copy_from_slice(&self.packet[ipv4::HEADER_LEN..header_len]);
        } else {
            out[ipv4::HEADER_LEN..header_len].copy_from_slice(&self.copied_options[..self.copied_len]);
        }
        let src = self.header_len + self.done;
        out[header_len..].copy_from_slice(&self.packet[src..src + data_len]);

        let offset = self.base_offset + self.done;
        let Ok(offset) = u16::try_from(offset) else { return Some(Err(DropReason::FragmentationFailed)) };
        let mut p = ipv4::Packet::new_unchecked(&mut out[..]);
        p.set_version_and_header_len(header_len);
        p.set_total_len(total as u16);
        p.set_flags_and_offset(false, !last || self.base_more_frags, offset);
        p.fill_checksum();

        self.done += data_len;
        self.finished = last;
        Some(Ok(total))
    }
}

/// True when an ICMP error about this packet is allowed (RFC 1812 section 4.3.2.7):
/// never about an ICMP error, a non-initial fragment, or a packet from an address that
/// names no single host.
fn may_send_icmpv4_error(p: &ipv4::Packet<&[u8]>) -> bool {
    let src = p.src_addr();
    if src.is_unspecified() || src.is_broadcast() || src.is_multicast() || src.is_loopback() {
        return false;
    }
    if p.frag_offset() != 0 {
        return false;
    }
    if p.protocol() == IpProtocol::ICMP {
        let payload = p.payload();
        let msg_type = payload.first().copied().unwrap_or(0);
        if payload.is_empty() || icmp::is_v4_error(msg_type) {
            return false;
        }
    }
    true
}

/// Writes into `out` an IPv4 packet from `gateway` to the sender of `original`
/// carrying ICMP "fragmentation needed and DF set" (type 3 code 4) with the next-hop
/// MTU (RFC 1191 section 4). The message quotes as much of the original packet as fits
/// in 576 octets. Returns `None` when no error may be sent or `out` is too small.
pub fn icmp_frag_needed(original: &[u8], next_hop_mtu: u16, gateway: Ipv4Addr, out: &mut [u8]) -> Option<usize> {
    let p = ipv4::Packet::new_checked(original).ok()?;
    if !may_send_icmpv4_error(&p) {
        return None;
    }
    let quoted_len = usize::from(p.total_len()).min(ICMPV4_ERROR_MAX - ipv4::HEADER_LEN - icmp::HEADER_LEN);
    let quoted = &original[..quoted_len];
    let message = icmp::Repr::DstUnreachable { code: icmp::v4_type::CODE_FRAG_NEEDED, next_hop_mtu, data: quoted };
    let total = ipv4::HEADER_LEN + message.buffer_len();
    let out = out.get_mut(..total)?;
    let ip = ipv4::Repr {
        src_addr: gateway,
        dst_addr: p.src_addr(),
        protocol: IpProtocol::ICMP,
        payload_len: message.buffer_len(),
        ttl: 64,
        dscp_ecn: 0,
        ident: p.ident(),
        dont_frag: false,
    };
    ip.emit(&mut ipv4::Packet::new_unchecked(&mut out[..]));
    message.emit(&mut icmp::Packet::new_unchecked(&mut out[ipv4::HEADER_LEN..]));
    Some(total)
}

/// Writes into `out` an IPv6 packet from `gateway` to the sender of `original`
/// carrying ICMPv6 "packet too big" with `mtu` (RFC 4443 section 3.2), quoting as much
/// of the original as fits in 1280 octets. Returns `None` when no error may be sent
/// (an ICMPv6 error, an unspecified or multicast source) or `out` is too small.
pub fn icmpv6_packet_too_big(original: &[u8], mtu: u32, gateway: Ipv6Addr, out: &mut [u8]) -> Option<usize> {
    let p = ipv6::Packet::new_checked(original).ok()?;
    let src = p.src_addr();
    if src.is_unspecified() || src.is_multicast() || src.is_loopback() {
        return None;
    }
    let upper = p.upper_layer().ok()?;
    if upper.protocol == IpProtocol::ICMPV6 {
        let msg_type = original.get(upper.offset).copied()?;
        if icmp::is_v6_error(msg_type) {
            return None;
        }
    }
    let quoted_len = p.total_len().min(ipv6::MIN_MTU - ipv6::HEADER_LEN - icmp::HEADER_LEN);
    let message = Icmpv6Repr::PacketTooBig { mtu, data: &original[..quoted_len] };
    let total = ipv6::HEADER_LEN + message.buffer_len();
    let out = out.get_mut(..total)?;
    let ip = ipv6::Repr {
        src_addr: gateway,
        dst_addr: src,
        next_header: IpProtocol::ICMPV6,
        payload_len: message.buffer_len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    };
    ip.emit(&mut ipv6::Packet::new_unchecked(&mut out[..]));
    message.emit(&mut icmp::Packet::new_unchecked(&mut out[ipv6::HEADER_LEN..]), gateway, src);
    Some(total)
}

/// Lowers the MSS option of a TCP SYN or SYN-ACK in an IPv4 or IPv6 packet to
/// `max_mss` (`sysopt connection tcpmss`), fixing the TCP checksum incrementally.
/// Returns the old and new MSS when the packet changed.
pub fn clamp_tcp_mss(packet: &mut [u8], max_mss: u16) -> Option<(u16, u16)> {
    let (protocol, start, end) = match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let p = ipv4::Packet::new_checked(&packet[..]).ok()?;
            if p.frag_offset() != 0 {
                return None;
            }
            (p.protocol(), p.header_len(), usize::from(p.total_len()))
        }
        Some(6) => {
            let p = ipv6::Packet::new_checked(&packet[..]).ok()?;
            let upper = p.upper_layer().ok()?;
            if !upper.first_fragment {
                return None;
            }
            (upper.protocol, upper.offset, p.total_len())
        }
        _ => return None,
    };
    if protocol != IpProtocol::TCP {
        return None;
    }
    let mut segment = tcp::Packet::new_checked(packet.get_mut(start..end)?).ok()?;
    if !segment.syn() {
        return None;
    }
    segment.clamp_mss(max_mss)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn v4_packet(payload_len: usize, df: bool, options: &[u8], protocol: IpProtocol) -> Vec<u8> {
        let header_len = ipv4::HEADER_LEN + options.len();
        let mut buf = vec![0u8; header_len + payload_len];
        let repr = ipv4::Repr {
            src_addr: Ipv4Addr::new(10, 0, 0, 5),
            dst_addr: Ipv4Addr::new(10, 1, 0, 5),
            protocol,
            payload_len,
            ttl: 64,
            dscp_ecn: 0,
            ident: 0x4242,
            dont_frag: df,
        };
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
        let mut p = ipv4::Packet::new_unchecked(&mut buf[..]);
        p.set_version_and_header_len(header_len);
        p.set_total_len((header_len + payload_len) as u16);
        p.options_mut().copy_from_slice(options);
        p.fill_checksum();
        for (i, b) in buf[header_len..].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        buf
    }

    #[test]
    fn overhead_gcm256_natt() {
        let o = Overhead::new(Encr::AesGcm16 { key_bits: 256 }, None, true, false);
        assert_eq!(o.fixed(), 20 + 8 + 8 + 8 + 2 + 16);
        assert_eq!(o.max_inner_len(1500), 1438);
    }

    #[test]
    fn overhead_cbc256_sha256_natt() {
        let o = Overhead::new(Encr::AesCbc { key_bits: 256 }, Some(Integ::HmacSha2_256_128), true, false);
        // 1500 - 20 - 8 - 8 - 16 (IV) - 16 (ICV) = 1432 = 89.5 blocks; 89 blocks minus trailer.
        assert_eq!(o.max_inner_len(1500), 89 * 16 - 2);
        assert_eq!(o.worst_case(), 20 + 8 + 8 + 16 + 2 + 16 + 15);
    }

    #[test]
    fn overhead_max_inner_exact() {
        for (encr, integ) in [
            (Encr::AesGcm16 { key_bits: 128 }, None),
            (Encr::AesCbc { key_bits: 128 }, Some(Integ::HmacSha1_96)),
            (Encr::Null, Some(Integ::HmacSha2_256_128)),
        ] {
            let o = Overhead::new(encr, integ, true, false);
            let outer = |len: usize| o.outer_ip + o.udp + 8 + o.iv + len + esp::pad_len(len, o.block) + 2 + o.icv;
            for mtu in 1200..1520 {
                let max = o.max_inner_len(mtu);
                assert!(outer(max) <= mtu, "{encr:?} mtu {mtu}");
                assert!(outer(max + 1) > mtu, "{encr:?} mtu {mtu}");
            }
        }
    }

    #[test]
    fn check_df_too_big() {
        let pkt = v4_packet(1480, true, &[], IpProtocol::UDP);
        assert_eq!(check(&pkt, 1438, true), MtuAction::TooBig { mtu: 1438 });
    }

    #[test]
    fn check_fragment_when_df_clear() {
        let pkt = v4_packet(1480, false, &[], IpProtocol::UDP);
        assert_eq!(check(&pkt, 1438, true), MtuAction::Fragment { max_len: 1438 });
        assert_eq!(check(&pkt, 1438, false), MtuAction::Send);
    }

    #[test]
    fn check_fits() {
        let pkt = v4_packet(1418, true, &[], IpProtocol::UDP);
        assert_eq!(check(&pkt, 1438, true), MtuAction::Send);
    }

    /// Reassembles fragments by offset and compares with the original payload.
    fn reassemble(frags: &[Vec<u8>]) -> Vec<u8> {
        let mut data = Vec::new();
        for f in frags {
            let p = ipv4::Packet::new_checked(&f[..]).expect("fragment is valid");
            assert!(p.verify_checksum());
            let off = usize::from(p.frag_offset());
            if data.len() < off + p.payload().len() {
                data.resize(off + p.payload().len(), 0);
            }
            data[off..off + p.payload().len()].copy_from_slice(p.payload());
        }
        data
    }

    fn fragment_all(pkt: &[u8], max_len: usize) -> Vec<Vec<u8>> {
        let mut f = Ipv4Fragmenter::new(pkt, max_len).expect("fragmentable");
        let expected = f.fragment_count();
        let mut out = Vec::new();
        let mut buf = [0u8; 2000];
        while let Some(r) = f.next_into(&mut buf) {
            let n = r.expect("fragment fits");
            out.push(buf[..n].to_vec());
        }
        assert_eq!(out.len(), expected);
        out
    }

    #[test]
    fn fragment_reassembles() {
        let pkt = v4_packet(3000, false, &[], IpProtocol::UDP);
        let frags = fragment_all(&pkt, 1438);
        assert_eq!(frags.len(), 3);
        for f in &frags {
            assert!(f.len() <= 1438);
        }
        let last = ipv4::Packet::new_checked(&frags[2][..]).expect("valid");
        assert!(!last.more_frags());
        let first = ipv4::Packet::new_checked(&frags[0][..]).expect("valid");
        assert!(first.more_frags());
        assert_eq!(first.payload().len() % 8, 0);
        assert_eq!(reassemble(&frags), pkt[20..]);
    }

    #[test]
    fn fragment_copies_flagged_options() {
        // A copied option (0x94, router alert, 4 octets), then a non-copied one
        // (0x07 record route, 7 octets) and End of List.
        let options = [0x94, 4, 0, 0, 0x07, 7, 4, 0, 0, 0, 0, 0];
        let pkt = v4_packet(2000, false, &options, IpProtocol::UDP);
        let frags = fragment_all(&pkt, 1000);
        let first = ipv4::Packet::new_checked(&frags[0][..]).expect("valid");
        assert_eq!(first.options(), &options);
        let second = ipv4::Packet::new_checked(&frags[1][..]).expect("valid");
        assert_eq!(second.options(), &[0x94, 4, 0, 0]);
        assert_eq!(reassemble(&frags), pkt[32..]);
    }

    #[test]
    fn fragment_of_fragment_keeps_offset() {
        let mut pkt = v4_packet(1600, false, &[], IpProtocol::UDP);
        let mut p = ipv4::Packet::new_unchecked(&mut pkt[..]);
        p.set_flags_and_offset(false, true, 800);
        p.fill_checksum();
        let frags = fragment_all(&pkt, 1000);
        let first = ipv4::Packet::new_checked(&frags[0][..]).expect("valid");
        assert_eq!(first.frag_offset(), 800);
        let last = ipv4::Packet::new_checked(&frags[frags.len() - 1][..]).expect("valid");
        assert!(last.more_frags());
    }

    #[test]
    fn fragment_df_rejected() {
        let pkt = v4_packet(2000, true, &[], IpProtocol::UDP);
        assert_eq!(Ipv4Fragmenter::new(&pkt, 1000).err(), Some(DropReason::FragmentationFailed));
    }

    #[test]
    fn fragment_tiny_mtu_rejected() {
        let pkt = v4_packet(2000, false, &[], IpProtocol::UDP);
        assert_eq!(Ipv4Fragmenter::new(&pkt, 27).err(), Some(DropReason::FragmentationFailed));
    }

    #[test]
    fn frag_needed_message() {
        let pkt = v4_packet(1480, true, &[], IpProtocol::UDP);
        let mut out = [0u8; 600];
        let n = icmp_frag_needed(&pkt, 1438, Ipv4Addr::new(10, 0, 0, 1), &mut out).expect("allowed");
        assert_eq!(n, 576);
        let ip = ipv4::Packet::new_checked(&out[..n]).expect("valid");
        assert!(ip.verify_checksum());
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(10, 0, 0, 5));
        let msg = icmp::Packet::new_checked(ip.payload()).expect("valid");
        assert_eq!(icmp::Repr::parse(&msg).map(|r| matches!(r, icmp::Repr::DstUnreachable { code: 4, next_hop_mtu: 1438, .. })), Ok(true));
        assert_eq!(&msg.data()[..20], &pkt[..20]);
    }

    #[test]
    fn frag_needed_not_for_icmp_error() {
        let mut pkt = v4_packet(600, true, &[], IpProtocol::ICMP);
        pkt[20] = icmp::v4_type::DST_UNREACHABLE;
        let mut out = [0u8; 600];
        assert_eq!(icmp_frag_needed(&pkt, 1438, Ipv4Addr::new(10, 0, 0, 1), &mut out), None);
    }

    #[test]
    fn packet_too_big_message() {
        let src: Ipv6Addr = "2001:db8::5".parse().expect("literal");
        let gw: Ipv6Addr = "2001:db8::1".parse().expect("literal");
        let mut pkt = vec![0u8; 1500];
        let repr = ipv6::Repr { src_addr: src, dst_addr: "2001:db8:1::5".parse().expect("literal"), next_header: IpProtocol::UDP, payload_len: 1460, hop_limit: 64, traffic_class: 0, flow_label: 0 };
        repr.emit(&mut ipv6::Packet::new_unchecked(&mut pkt[..]));
        let mut out = [0u8; 1400];
        let n = icmpv6_packet_too_big(&pkt, 1422, gw, &mut out).expect("allowed");
        assert_eq!(n, 1280);
        let ip = ipv6::Packet::new_checked(&out[..n]).expect("valid");
        let msg = icmp::Packet::new_checked(ip.payload()).expect("valid");
        assert_eq!(Icmpv6Repr::parse(&msg, gw, src).map(|r| matches!(r, Icmpv6Repr::PacketTooBig { mtu: 1422, .. })), Ok(true));
    }

    fn syn_packet(mss: u16) -> Vec<u8> {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
        let dst = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 5));
        let seg = tcp::Repr { src_port: 40000, dst_port: 443, seq_number: 1, ack_number: 0, flags: tcp::flags::SYN, window_len: 64240, max_seg_size: Some(mss), payload_len: 0 };
        let mut pkt = v4_packet(seg.buffer_len(), true, &[], IpProtocol::TCP);
        seg.emit(&mut tcp::Packet::new_unchecked(&mut pkt[20..]), src, dst, |_| {});
        pkt
    }

    #[test]
    fn mss_clamped_in_syn() {
        let mut pkt = syn_packet(1460);
        assert_eq!(clamp_tcp_mss(&mut pkt, 1360), Some((1460, 1360)));
        let seg = tcp::Packet::new_checked(&pkt[20..]).expect("valid");
        assert!(seg.verify_checksum(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)), IpAddr::V4(Ipv4Addr::new(10, 1, 0, 5))));
        assert_eq!(seg.mss_option().map(|(m, _)| m), Some(1360));
    }

    #[test]
    fn mss_below_limit_untouched() {
        let mut pkt = syn_packet(1200);
        assert_eq!(clamp_tcp_mss(&mut pkt, 1360), None);
    }

    #[test]
    fn mss_not_syn_untouched() {
        let mut pkt = syn_packet(1460);
        pkt[20 + 13] = tcp::flags::ACK as u8;
        assert_eq!(clamp_tcp_mss(&mut pkt, 1360), None);
    }

    fn v6_syn(mss: u16) -> Vec<u8> {
        let src: Ipv6Addr = "2001:db8::5".parse().expect("literal");
        let dst: Ipv6Addr = "2001:db8:1::5".parse().expect("literal");
        let seg = tcp::Repr { src_port: 40000, dst_port: 80, seq_number: 1, ack_number: 0, flags: tcp::flags::SYN, window_len: 64800, max_seg_size: Some(mss), payload_len: 0 };
        let mut pkt = vec![0u8; ipv6::HEADER_LEN + seg.buffer_len()];
        let ip = ipv6::Repr { src_addr: src, dst_addr: dst, next_header: IpProtocol::TCP, payload_len: seg.buffer_len(), hop_limit: 64, traffic_class: 0, flow_label: 0 };
        ip.emit(&mut ipv6::Packet::new_unchecked(&mut pkt[..]));
        seg.emit(&mut tcp::Packet::new_unchecked(&mut pkt[ipv6::HEADER_LEN..]), src.into(), dst.into(), |_| {});
        pkt
    }

    #[test]
    fn mss_clamped_in_ipv6_syn() {
        let mut pkt = v6_syn(1440);
        assert_eq!(clamp_tcp_mss(&mut pkt, 1360), Some((1440, 1360)));
        let src: IpAddr = "2001:db8::5".parse().expect("literal");
        let dst: IpAddr = "2001:db8:1::5".parse().expect("literal");
        let seg = tcp::Packet::new_checked(&pkt[ipv6::HEADER_LEN..]).expect("valid");
        assert!(seg.verify_checksum(src, dst));
    }

    #[test]
    fn check_ipv6_too_big() {
        let pkt = vec![0x60u8; 1500];
        assert_eq!(check(&pkt, 1438, true), MtuAction::TooBig { mtu: 1438 });
        assert_eq!(check(&pkt, 1200, true), MtuAction::Send);
    }

    #[test]
    fn copy_df() {
        assert!(dont_fragment(&v4_packet(10, true, &[], IpProtocol::UDP)));
        assert!(!dont_fragment(&v4_packet(10, false, &[], IpProtocol::UDP)));
    }
}
