//! SIGHUP, SIGTERM and SIGINT, turned into control-plane messages by a dedicated thread.

use std::sync::mpsc::Sender;
use std::thread::{self, JoinHandle};

use nix::sys::signal::{SigSet, Signal};

use crate::control_plane::ControlMsg;
use crate::error::Error;

/// Blocks the handled signals in the calling thread, so that every thread spawned after
/// this call inherits the mask and only the signal thread receives them.
pub fn block() -> Result<SigSet, Error> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGHUP);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.thread_block().map_err(|e| Error::io("blocking signals", e.into()))?;
    Ok(set)
}

/// Starts the thread that waits for the signals in `set`. It ends after forwarding a
/// termination request.
pub fn spawn(set: SigSet, control: Sender<ControlMsg>) -> Result<JoinHandle<()>, Error> {
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let signal = match set.wait() {
                Ok(signal) => signal,
                Err(e) => {
                    tracing::error!(error = %e, "waiting for signals failed");
                    return;
                }
            };
            let message = match signal {
                Signal::SIGHUP => ControlMsg::Reload,
                _ => ControlMsg::Terminate,
            };
            let terminate = matches!(message, ControlMsg::Terminate);
            tracing::info!(signal = %signal, "signal received");
            if control.send(message).is_err() || terminate {
                return;
            }
        })
        .map_err(|e| Error::io("starting the signal thread", e))
}
