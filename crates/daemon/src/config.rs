//! Loading the ASA configuration through the `rampart check` front end.

use rampart_ike::config::IkeConfig;
use rampart_policy::model::PolicyConfig;

use crate::error::Error;
use crate::Options;

/// What the daemon takes from a configuration: the policy for the data plane and the
/// IKE engine's configuration.
pub struct LoadedConfig {
    pub policy: PolicyConfig,
    pub ike: IkeConfig,
}

/// Loads and checks the configuration file of `options` and applies the command-line
/// settings that the IKE engine takes. Errors carry the rendered diagnostics, each with
/// its file and line; warnings are logged and do not stop the load.
pub fn load(options: &Options) -> Result<LoadedConfig, Error> {
    let path = options.config.as_path();
    let loaded = rampart_asa::load_file(path).map_err(|e| Error::Config { diagnostics: e.to_string() })?;
    if loaded.has_errors() {
        return Err(Error::Config { diagnostics: loaded.render_diagnostics(false) });
    }
    let warnings = loaded.render_diagnostics(false);
    if !warnings.trim().is_empty() {
        tracing::warn!(config = %path.display(), "configuration warnings:\n{warnings}");
    }
    let mut ike = loaded.config.ike();
    ike.force_udp_encap = options.force_udp_encap;
    Ok(LoadedConfig { policy: loaded.config.policy(), ike })
}
