//! The control socket: a Unix stream socket that takes one command line per connection
//! and returns a JSON snapshot, as `show crypto ...` and `clear crypto ...` on an ASA.
//!
//! Commands: `show crypto ikev2 sa`, `show crypto ipsec sa`, `show crypto ipsec stats`,
//! `show memory`, `clear crypto ipsec sa peer ADDR`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rampart_ike::Engine;
use serde_json::json;

use crate::control_plane::ControlMsg;
use crate::error::Error;
use crate::memory::MemoryUsage;
use crate::shared::Shared;

/// How long a client waits for the control plane's reply.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Maximum command line length, in octets.
const MAX_LINE: u64 = 512;

/// Runs one command against the engine and the SA tables. Returns JSON text.
pub fn execute(line: &str, now: Instant, engine: &mut Engine, shared: &Shared) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let value = match words.as_slice() {
        ["show", "crypto", "ikev2", "sa"] => to_value(crate::show::ike_sas(engine, now)),
        ["show", "crypto", "ipsec", "sa"] => to_value(crate::show::ipsec_sas(&shared.sa(), engine, &shared.policy(), now)),
        ["show", "crypto", "ipsec", "stats"] => {
            let mut stats = shared.sa().stats();
            stats.not_tunneled = shared.not_tunneled.load(Ordering::Relaxed);
            stats.clear_forwarded = shared.clear_forwarded.load(Ordering::Relaxed);
            stats.send_errors = shared.send_errors.load(Ordering::Relaxed);
            stats.tun_write_errors = shared.tun_write_errors.load(Ordering::Relaxed);
            stats.ike_queue_drops = shared.ike_queue_drops.load(Ordering::Relaxed);
            to_value(stats)
        }
        ["show", "memory"] => show_memory(now, engine),
        ["clear", "crypto", "ipsec", "sa", "peer", addr] => match addr.parse::<IpAddr>() {
            Ok(addr) => {
                tracing::info!(peer = %addr, "clear crypto ipsec sa peer");
                engine.clear_peer(now, addr);
                json!({ "cleared": addr.to_string() })
            }
            Err(_) => json!({ "error": format!("invalid peer address {addr:?}: expected an IPv4 or IPv6 address") }),
        },
        _ => json!({
            "error": format!("unknown command {line:?}"),
            "commands": [
                "show crypto ikev2 sa",
                "show crypto ipsec sa",
                "show crypto ipsec stats",
                "show memory",
                "clear crypto ipsec sa peer ADDR"
            ]
        }),
    };
    serde_json::to_string_pretty(&value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// `show memory`: heap and resident set in octets, as the ASA's `show memory` gives
/// free, used and total, with the SA counts to divide them by.
fn show_memory(now: Instant, engine: &Engine) -> serde_json::Value {
    let usage = MemoryUsage::now();
    let ike_sas = engine.ike_sas(now);
    let child_sas: usize = ike_sas.iter().map(|sa| sa.children.len()).sum();
    json!({
        "heap_used": usage.heap_used,
        "heap_free": usage.heap_free,
        "heap_total": usage.heap_total,
        "rss": usage.rss,
        "ike_sas": ike_sas.len(),
        "child_sas": child_sas,
    })
}

fn to_value<T: serde::Serialize>(document: T) -> serde_json::Value {
    serde_json::to_value(document).unwrap_or_else(|e| json!({ "error": format!("serializing the snapshot failed: {e}") }))
}

/// The listening control socket; the socket file is removed on drop.
pub struct ControlSocket {
    path: PathBuf,
}

impl ControlSocket {
    /// Binds `path` (creating its directory, replacing a stale socket) and starts the
    /// accept thread.
    pub fn start(path: &Path, control: Sender<ControlMsg>) -> Result<(ControlSocket, JoinHandle<()>), Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        if UnixStream::connect(path).is_ok() {
            return Err(Error::Setup(format!(
                "control socket {} is in use: another rampart runs with it; pass --control PATH",
                path.display()
            )));
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(|e| Error::io(format!("binding control socket {}", path.display()), e))?;
        let thread = thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    match stream {
                        Ok(stream) => serve(stream, &control),
                        Err(e) => tracing::warn!(error = %e, "accepting a control connection failed"),
                    }
                }
            })
            .map_err(|e| Error::io("starting the control socket thread", e))?;
        Ok((ControlSocket { path: path.to_path_buf() }, thread))
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(stream: UnixStream, control: &Sender<ControlMsg>) {
    let _ = stream.set_read_timeout(Some(ANSWER_TIMEOUT));
    let mut line = String::new();
    let Ok(reader) = stream.try_clone() else { return };
    if BufReader::new(reader.take(MAX_LINE)).read_line(&mut line).is_err() {
        return;
    }
    let (reply, answer) = mpsc::channel();
    let text = if control.send(ControlMsg::Command { line: line.trim().to_string(), reply }).is_err() {
        "{\"error\":\"the gateway is shutting down\"}".to_string()
    } else {
        answer
            .recv_timeout(ANSWER_TIMEOUT)
            .unwrap_or_else(|_| "{\"error\":\"the control plane did not answer in time\"}".to_string())
    };
    let mut stream = stream;
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.write_all(b"\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_crypto::random::TestRandom;
    use rampart_policy::model::PolicyConfig;

    use crate::sa_table::SaTables;
    use crate::shared::PolicyState;

    fn fixture() -> (Engine, Shared) {
        let ike = crate::shared::tests::empty_ike_config();
        let engine = Engine::new(ike.clone(), Box::new(TestRandom::new(1)), Instant::now());
        let policy = PolicyState::new(PolicyConfig::default(), &ike, 0).unwrap();
        let (control, _) = mpsc::channel();
        (engine, Shared::new(SaTables::new(), policy, control))
    }

    fn run(line: &str) -> serde_json::Value {
        let (mut engine, shared) = fixture();
        serde_json::from_str(&execute(line, Instant::now(), &mut engine, &shared)).unwrap()
    }

    #[test]
    fn execute_unknown_lists_commands() {
        let reply = run("show running-config");
        assert!(reply["error"].as_str().unwrap().contains("unknown command"));
        assert_eq!(reply["commands"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn execute_stats_has_drops() {
        let reply = run("show crypto ipsec stats");
        assert_eq!(reply["drops"]["missing-sa"], 0);
        assert_eq!(reply["not_tunneled"], 0);
    }

    #[test]
    fn execute_ipsec_sa_empty() {
        let reply = run("show crypto ipsec sa");
        assert_eq!(reply["children"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn execute_ikev2_sa_empty() {
        assert_eq!(run("show crypto ikev2 sa"), serde_json::json!([]));
    }

    #[test]
    fn execute_memory_counts_heap() {
        let reply = run("show memory");
        assert!(reply["heap_used"].as_u64().unwrap() > 0);
        assert!(reply["rss"].as_u64().unwrap() > 0);
    }

    #[test]
    fn execute_memory_counts_sas() {
        let reply = run("show memory");
        assert_eq!(reply["ike_sas"], 0);
        assert_eq!(reply["child_sas"], 0);
    }

    #[test]
    fn execute_clear_rejects_bad_address() {
        let reply = run("clear crypto ipsec sa peer 198.51.100");
        assert!(reply["error"].as_str().unwrap().contains("invalid peer address"));
    }

    #[test]
    fn execute_clear_accepts_address() {
        assert_eq!(run("clear crypto ipsec sa peer 198.51.100.2")["cleared"], "198.51.100.2");
    }
}
