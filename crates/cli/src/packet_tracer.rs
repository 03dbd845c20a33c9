//! `rampart packet-tracer`: trace a packet through a configuration's policy offline, in
//! the layout of the ASA's `packet-tracer` command.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use rampart_policy::flow::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use rampart_policy::tracer::{TraceOptions, TraceReport};
use rampart_policy::{Flow, PolicyEngine};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The ASA's text layout.
    Text,
    /// One JSON object with the phases, the result block, the NAT and the VPN match.
    Json,
}

/// Exit status of `rampart packet-tracer`, shown by `--help`. A traced drop is a
/// finished trace, so it exits 0 like an allowed packet.
const EXIT_STATUS_HELP: &str = "Exit status:
  0  the trace finished (the packet is allowed or dropped)
  1  the configuration cannot be read, has errors, or has no such input interface
  2  usage error: invalid packet words, address, port, ICMP type or option";

const EXIT_TRACED: u8 = 0;
const EXIT_CONFIG: u8 = 1;
const EXIT_USAGE: u8 = 2;

#[derive(clap::Args)]
#[command(after_help = EXIT_STATUS_HELP)]
pub struct Args {
    /// ASA configuration file to trace against.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The packet in ASA syntax: `input IFC tcp|udp SRC SPORT DST DPORT [detailed]` or
    /// `input IFC icmp SRC TYPE CODE DST [detailed]`.
    #[arg(required = true, num_args = 1.., value_name = "PACKET")]
    packet: Vec<String>,
}

/// The packet to trace, parsed from the ASA-style words.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PacketSpec {
    ingress: String,
    flow: Flow,
    detailed: bool,
}

const USAGE: &str = "expected `input IFC tcp|udp SRC SPORT DST DPORT [detailed]` or `input IFC icmp SRC TYPE CODE DST [detailed]`";

fn parse_port(word: &str, field: &str) -> Result<u16, String> {
    rampart_asa::keywords::port(word)
        .ok_or_else(|| format!("invalid {field} {word:?}: expected a number from 0 to 65535 or an ASA port name such as www or https"))
}

fn parse_icmp_type(word: &str) -> Result<u16, String> {
    rampart_asa::keywords::icmp_type(word)
        .map(u16::from)
        .ok_or_else(|| format!("invalid ICMP type {word:?}: expected a number from 0 to 255 or an ASA name such as echo"))
}

fn parse_address(word: &str, field: &str) -> Result<IpAddr, String> {
    word.parse().map_err(|_| format!("invalid {field} {word:?}: expected an IPv4 or IPv6 address"))
}

fn parse_packet(words: &[String]) -> Result<PacketSpec, String> {
    let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
    let detailed = words.last().is_some_and(|w| w.eq_ignore_ascii_case("detailed"));
    if detailed {
        words.pop();
    }
    let [input, ingress, protocol, rest @ ..] = words.as_slice() else {
        return Err(format!("missing words: {USAGE}"));
    };
    if !input.eq_ignore_ascii_case("input") {
        return Err(format!("unexpected {input:?}: {USAGE}"));
    }
    let flow = match (protocol.to_ascii_lowercase().as_str(), rest) {
        ("tcp" | "udp", [src, sport, dst, dport]) => Flow {
            protocol: if protocol.eq_ignore_ascii_case("tcp") { PROTO_TCP } else { PROTO_UDP },
            src: parse_address(src, "source address")?,
            src_port: parse_port(sport, "source port")?,
            dst: parse_address(dst, "destination address")?,
            dst_port: parse_port(dport, "destination port")?,
        },
        ("icmp", [src, icmp_type, code, dst]) => Flow {
            protocol: PROTO_ICMP,
            src: parse_address(src, "source address")?,
            src_port: parse_icmp_type(icmp_type)?,
            dst_port: code.parse::<u8>().map(u16::from).map_err(|_| format!("invalid ICMP code {code:?}: expected a number from 0 to 255"))?,
            dst: parse_address(dst, "destination address")?,
        },
        ("tcp" | "udp" | "icmp", _) => return Err(format!("wrong number of words after {protocol:?}: {USAGE}")),
        _ => return Err(format!("unsupported protocol {protocol:?}: {USAGE}")),
    };
    Ok(PacketSpec { ingress: ingress.to_string(), flow, detailed })
}

pub fn main(args: Args) -> ExitCode {
    let spec = match parse_packet(&args.packet) {
        Ok(spec) => spec,
        Err(message) => {
            eprintln!("rampart packet-tracer: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    let loaded = match rampart_asa::load_file(&args.config) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("rampart packet-tracer: cannot load {}: {err}", args.config.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if loaded.has_errors() {
        eprint!("{}", loaded.render_diagnostics(false));
        eprintln!("rampart packet-tracer: {} has errors; fix them and trace again", args.config.display());
        return ExitCode::from(EXIT_CONFIG);
    }

    let output = match trace(&loaded, &spec, args.format) {
        Ok(output) => output,
        Err(message) => {
            eprintln!("rampart packet-tracer: {}: {message}", args.config.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // A reader that closes the pipe early (such as `head`) is not an error worth a message.
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush())
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("rampart packet-tracer: failed to write the trace: {err}");
        return ExitCode::from(EXIT_CONFIG);
    }
    ExitCode::from(EXIT_TRACED)
}

/// Trace `spec` through the policy of a loaded configuration and render the result.
fn trace(loaded: &rampart_asa::Loaded, spec: &PacketSpec, format: Format) -> Result<String, String> {
    let policy = loaded.config.policy();
    if !policy.interfaces.iter().any(|i| i.name == spec.ingress) {
        let names: Vec<&str> = policy.interfaces.iter().map(|i| i.name.as_str()).collect();
        return Err(format!(
            "input interface {:?} does not exist; configured interfaces (nameif): {}",
            spec.ingress,
            names.join(", ")
        ));
    }
    let engine = PolicyEngine::new(policy).map_err(|err| format!("invalid policy: {err}"))?;

    let decision = engine.evaluate(&spec.flow, &spec.ingress, true);
    let options = TraceOptions { detailed: spec.detailed, offline: true };
    let report = TraceReport::new(&decision, &spec.flow, &spec.ingress, options);
    match format {
        Format::Text => Ok(report.to_text(options)),
        Format::Json => serde_json::to_string_pretty(&report)
            .map(|json| json + "\n")
            .map_err(|err| format!("failed to encode the trace as JSON: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_string).collect()
    }

    /// The guide's branch ASA (9.6 syntax) with the optional port filter.
    const GUIDE: &str = "\
interface GigabitEthernet0/0
 nameif outside
 security-level 0
 ip address 198.51.100.2 255.255.255.0
interface GigabitEthernet0/1
 nameif inside
 security-level 100
 ip address 10.10.0.1 255.255.0.0
route outside 0.0.0.0 0.0.0.0 198.51.100.1
crypto ikev2 policy 1
 encryption aes-256
 integrity sha
 group 5 2
 prf sha
 lifetime seconds 86400
crypto ikev2 enable outside
tunnel-group 203.0.113.10 type ipsec-l2l
tunnel-group 203.0.113.10 ipsec-attributes
 ikev2 remote-authentication pre-shared-key test-key-0123456789
 ikev2 local-authentication pre-shared-key test-key-0123456789
tunnel-group 203.0.113.20 type ipsec-l2l
tunnel-group 203.0.113.20 ipsec-attributes
 ikev2 remote-authentication pre-shared-key test-key-0123456789
 ikev2 local-authentication pre-shared-key test-key-0123456789
object network deny_traffic
 host 10.10.1.100
object network flow_traffic
 subnet 10.10.0.0 255.255.0.0
access-list Zscaler_MAP extended deny ip object deny_traffic any
access-list Zscaler_MAP extended permit ip object flow_traffic any
crypto ipsec ikev2 ipsec-proposal ZS
 protocol esp encryption aes-gcm-256
 protocol esp integrity null
crypto map outside_map 65000 match address Zscaler_MAP
crypto map outside_map 65000 set peer 203.0.113.10 203.0.113.20
crypto map outside_map 65000 set ikev2 ipsec-proposal ZS
crypto map outside_map interface outside
object service http
 service tcp destination eq www
object service https
 service tcp destination eq https
nat (inside,outside) source static flow_traffic flow_traffic service http http
nat (inside,outside) source static flow_traffic flow_traffic service https https
nat (inside,outside) after-auto source dynamic any interface
";

    fn trace_guide(packet: &str, format: Format) -> String {
        let loaded = rampart_asa::load_str("guide.cfg", GUIDE);
        assert!(!loaded.has_errors(), "{}", loaded.render_diagnostics(false));
        let spec = parse_packet(&words(packet)).expect("valid packet");
        trace(&loaded, &spec, format).expect("trace")
    }

    #[test]
    fn trace_https_enters_tunnel() {
        let text = trace_guide("input inside tcp 10.10.1.5 40000 198.18.5.5 443", Format::Text);
        assert!(text.contains("Type: VPN\nSubtype: encrypt\nResult: ALLOW\n"), "{text}");
        assert!(text.contains("Static translate 10.10.1.5/40000 to 10.10.1.5/40000\n"), "{text}");
        assert!(text.ends_with("output-interface: outside\noutput-status: up\noutput-line-status: up\nAction: allow\n"), "{text}");
    }

    #[test]
    fn trace_ssh_is_pat() {
        let text = trace_guide("input inside tcp 10.10.1.5 40000 198.18.5.5 22", Format::Text);
        assert!(text.contains("Dynamic translate 10.10.1.5/40000 to 198.51.100.2/40000\n"), "{text}");
        assert!(!text.contains("Type: VPN"), "{text}");
    }

    #[test]
    fn trace_deny_traffic_stays_clear() {
        let text = trace_guide("input inside tcp 10.10.1.100 40000 198.18.5.5 443", Format::Text);
        assert!(!text.contains("Type: VPN"), "{text}");
        assert!(text.contains("Action: allow"), "{text}");
    }

    #[test]
    fn trace_json_vpn_match() {
        let json = trace_guide("input inside tcp 10.10.1.5 40000 198.18.5.5 www", Format::Json);
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(value["vpn"]["map"], "outside_map");
        assert_eq!(value["vpn"]["sequence"], 65000);
        assert_eq!(value["vpn"]["permit_index"], 0);
        assert_eq!(value["result"]["action"], "allow");
    }

    #[test]
    fn trace_unknown_interface_fails() {
        let loaded = rampart_asa::load_str("guide.cfg", GUIDE);
        let spec = parse_packet(&words("input dmz tcp 10.10.1.5 1 198.18.5.5 2")).expect("valid packet");
        let err = trace(&loaded, &spec, Format::Text).expect_err("unknown interface");
        assert!(err.contains("\"dmz\" does not exist"), "{err}");
    }

    #[test]
    fn help_lists_exit_status() {
        for code in [EXIT_TRACED, EXIT_CONFIG, EXIT_USAGE] {
            assert!(EXIT_STATUS_HELP.contains(&format!("\n  {code}  ")), "exit status {code} undocumented");
        }
    }

    #[test]
    fn parse_tcp_packet() {
        let spec = parse_packet(&words("input inside tcp 10.10.1.5 40000 198.18.5.5 https")).expect("valid");
        assert_eq!(spec.ingress, "inside");
        assert_eq!(spec.flow.protocol, PROTO_TCP);
        assert_eq!(spec.flow.src_port, 40000);
        assert_eq!(spec.flow.dst_port, 443);
        assert!(!spec.detailed);
    }

    #[test]
    fn parse_udp_detailed() {
        let spec = parse_packet(&words("input inside udp 10.10.1.5 5353 198.18.5.5 domain detailed")).expect("valid");
        assert_eq!(spec.flow.protocol, PROTO_UDP);
        assert_eq!(spec.flow.dst_port, 53);
        assert!(spec.detailed);
    }

    #[test]
    fn parse_icmp_packet() {
        let spec = parse_packet(&words("input inside icmp 10.10.1.5 echo 0 198.18.5.5")).expect("valid");
        assert_eq!(spec.flow.protocol, PROTO_ICMP);
        assert_eq!(spec.flow.src_port, 8);
        assert_eq!(spec.flow.dst_port, 0);
        assert_eq!(spec.flow.dst, "198.18.5.5".parse::<IpAddr>().expect("literal"));
    }

    #[test]
    fn parse_rejects_bad_port() {
        let err = parse_packet(&words("input inside tcp 10.10.1.5 70000 198.18.5.5 80")).expect_err("invalid");
        assert!(err.contains("source port"), "{err}");
    }

    #[test]
    fn parse_rejects_missing_words() {
        assert!(parse_packet(&words("input inside tcp 10.10.1.5 1 198.18.5.5")).is_err());
        assert!(parse_packet(&words("input inside")).is_err());
    }

    #[test]
    fn parse_rejects_other_protocols() {
        let err = parse_packet(&words("input inside gre 10.10.1.5 1 198.18.5.5 2")).expect_err("invalid");
        assert!(err.contains("unsupported protocol"), "{err}");
    }
}
