//! `rampart show crypto ...`: the running gateway's SAs and counters, read from its
//! control socket and printed in the ASA layout or as JSON.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use rampart_daemon::Options;
use rampart_show::model::{IkeSa, IpsecSas, IpsecStats};

/// How long the client waits for the gateway's reply. The gateway itself gives up
/// after 5 s when its control plane is busy and replies with an error.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest reply read, in octets: a gateway with thousands of Child SAs stays far below.
const MAX_REPLY: u64 = 64 << 20;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    #[command(subcommand)]
    command: CryptoCommand,
}

/// Source of the JSON document, and the output format.
#[derive(clap::Args)]
struct Source {
    /// Control socket of the running gateway (`rampart run --control PATH`).
    #[arg(long, value_name = "PATH", global = true, conflicts_with_all = ["config", "input"])]
    socket: Option<PathBuf>,
    /// ASA configuration file that the gateway runs with; the socket is
    /// /run/rampart/<file stem>.sock, as `rampart run` derives it.
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "input")]
    config: Option<PathBuf>,
    /// Render a JSON reply saved earlier (`--format json`) instead of asking a gateway.
    #[arg(long, value_name = "FILE", global = true)]
    input: Option<PathBuf>,
    /// Output format: the ASA text layout or the gateway's JSON document.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(clap::Subcommand)]
enum CryptoCommand {
    /// IKEv2 SAs.
    Ikev2 {
        #[command(subcommand)]
        command: Ikev2Command,
    },
    /// IKE SAs as `show crypto isakmp sa` prints them: no IKEv1 SAs, then the IKEv2 SAs.
    Isakmp {
        #[command(subcommand)]
        command: IsakmpCommand,
    },
    /// IPsec (ESP) SAs and global counters.
    Ipsec {
        #[command(subcommand)]
        command: IpsecCommand,
    },
}

#[derive(clap::Subcommand)]
enum Ikev2Command {
    /// `show crypto ikev2 sa [detail]`.
    Sa {
        #[command(subcommand)]
        detail: Option<Detail>,
    },
}

#[derive(clap::Subcommand)]
enum Detail {
    /// Add SPIs, identities, message IDs and NAT detection to every IKE SA.
    Detail,
}

#[derive(clap::Subcommand)]
enum IsakmpCommand {
    /// `show crypto isakmp sa`.
    Sa,
}

#[derive(clap::Subcommand)]
enum IpsecCommand {
    /// `show crypto ipsec sa [peer ADDR]`.
    Sa {
        #[command(subcommand)]
        filter: Option<PeerFilter>,
    },
    /// `show crypto ipsec stats`.
    Stats,
}

#[derive(clap::Subcommand)]
enum PeerFilter {
    /// Only the SAs whose remote gateway is ADDR.
    Peer {
        #[arg(value_name = "ADDR")]
        addr: IpAddr,
    },
}

pub fn main(args: Args) -> ExitCode {
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("rampart: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let source = &args.source;
    match &args.command {
        CryptoCommand::Ikev2 { command: Ikev2Command::Sa { detail } } => {
            let sas: Vec<IkeSa> = fetch(source, "show crypto ikev2 sa")?;
            render(source, &sas, |sas| rampart_show::render_ikev2_sa(sas, detail.is_some()))
        }
        CryptoCommand::Isakmp { command: IsakmpCommand::Sa } => {
            let sas: Vec<IkeSa> = fetch(source, "show crypto ikev2 sa")?;
            render(source, &sas, |sas| rampart_show::render_isakmp_sa(sas))
        }
        CryptoCommand::Ipsec { command: IpsecCommand::Sa { filter } } => {
            let mut sas: IpsecSas = fetch(source, "show crypto ipsec sa")?;
            if let Some(PeerFilter::Peer { addr }) = filter {
                sas.filter_peer(*addr);
            }
            render(source, &sas, rampart_show::render_ipsec_sa)
        }
        CryptoCommand::Ipsec { command: IpsecCommand::Stats } => {
            let stats: IpsecStats = fetch(source, "show crypto ipsec stats")?;
            render(source, &stats, rampart_show::render_ipsec_stats)
        }
    }
}

fn render<T: serde::Serialize>(source: &Source, document: &T, text: impl Fn(&T) -> String) -> Result<String, String> {
    match source.format {
        Format::Text => Ok(text(document)),
        Format::Json => serde_json::to_string_pretty(document)
            .map(|json| json + "\n")
            .map_err(|e| format!("serializing the reply as JSON failed: {e}")),
    }
}

/// Reads the JSON document for `command` from the saved file or the gateway.
fn fetch<T: serde::de::DeserializeOwned>(source: &Source, command: &str) -> Result<T, String> {
    let (text, origin) = match (&source.input, &source.socket, &source.config) {
        (Some(file), _, _) => {
            let text = std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
            (text, file.display().to_string())
        }
        (None, Some(socket), _) => (query(socket, command, "FILE")?, socket.display().to_string()),
        (None, None, Some(config)) => {
            let socket = Options::default_control_path(config);
            (query(&socket, command, &config.display().to_string())?, socket.display().to_string())
        }
        (None, None, None) => {
            return Err(
                "no gateway given: pass --config FILE (the file `rampart run` uses), --socket PATH or --input FILE"
                    .to_string(),
            );
        }
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("the reply from {origin} is not valid JSON: {e}"))?;
    if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
        return Err(format!("the gateway at {origin} rejected `{command}`: {error}"));
    }
    serde_json::from_value(value).map_err(|e| {
        format!("the reply from {origin} does not match `{command}`: {e}; is the gateway a different rampart version?")
    })
}

/// Sends one command line to the control socket and returns the reply. `config` names
/// the configuration file in the hint to start the gateway.
fn query(socket: &Path, command: &str, config: &str) -> Result<String, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| connect_error(socket, config, &e))?;
    let io_error = |e: std::io::Error| format!("control socket {}: {e}", socket.display());
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io_error)?;
    stream.write_all(format!("{command}\n").as_bytes()).map_err(io_error)?;
    let mut reply = String::new();
    stream.take(MAX_REPLY).read_to_string(&mut reply).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
            "the gateway did not reply on {} within {} s",
            socket.display(),
            REPLY_TIMEOUT.as_secs()
        ),
        _ => io_error(e),
    })?;
    Ok(reply)
}

fn connect_error(socket: &Path, config: &str, e: &std::io::Error) -> String {
    let path = socket.display();
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => format!(
            "no gateway is listening on control socket {path} ({e}): start it with \
             `rampart run --config {config}`, or pass --socket with the path given to `rampart run --control`"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "permission denied on control socket {path}: run as root or as the user that started `rampart run`"
        ),
        _ => format!("connecting to control socket {path} failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(input: Option<PathBuf>, socket: Option<PathBuf>) -> Source {
        Source { socket, config: None, input, format: Format::Text }
    }

    fn write_temp(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("rampart-show-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn connect_error_missing_socket() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        let message = connect_error(Path::new("/run/rampart/branch.sock"), "branch.cfg", &e);
        assert!(message.contains("/run/rampart/branch.sock"), "{message}");
        assert!(message.contains("rampart run --config branch.cfg"), "{message}");
    }

    #[test]
    fn connect_error_permission_denied() {
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let message = connect_error(Path::new("/run/rampart/branch.sock"), "branch.cfg", &e);
        assert!(message.starts_with("permission denied on control socket /run/rampart/branch.sock"), "{message}");
        assert!(message.contains("run as root"), "{message}");
    }

    #[test]
    fn fetch_without_source_names_options() {
        let err = fetch::<IpsecStats>(&source(None, None), "show crypto ipsec stats").unwrap_err();
        assert!(err.contains("--config FILE"), "{err}");
    }

    #[test]
    fn fetch_reports_gateway_error() {
        let path = write_temp("error.json", r#"{"error": "the control plane did not answer in time"}"#);
        let err = fetch::<IpsecStats>(&source(Some(path.clone()), None), "show crypto ipsec stats").unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("rejected `show crypto ipsec stats`"), "{err}");
        assert!(err.contains("did not answer in time"), "{err}");
    }

    #[test]
    fn fetch_rejects_wrong_document() {
        let path = write_temp("wrong.json", r#"{"children": 5}"#);
        let err = fetch::<IpsecSas>(&source(Some(path.clone()), None), "show crypto ipsec sa").unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(err.contains("does not match `show crypto ipsec sa`"), "{err}");
    }

    #[test]
    fn fetch_reads_stats_from_input() {
        let path = write_temp("stats.json", r#"{"active_tunnels": 1, "inbound": {"packets": 7}}"#);
        let stats = fetch::<IpsecStats>(&source(Some(path.clone()), None), "show crypto ipsec stats").unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(stats.active_tunnels, 1);
        assert_eq!(stats.inbound.packets, 7);
    }

    #[test]
    fn query_unix_socket_round_trip() {
        let path = std::env::temp_dir().join(format!("rampart-show-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut stream), &mut line).unwrap();
            stream.write_all(b"{\"active_tunnels\": 2}\n").unwrap();
            line
        });
        let stats = fetch::<IpsecStats>(&source(None, Some(path.clone())), "show crypto ipsec stats").unwrap();
        let line = server.join().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(line, "show crypto ipsec stats\n");
        assert_eq!(stats.active_tunnels, 2);
    }
}
