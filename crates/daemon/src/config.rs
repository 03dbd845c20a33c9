//! Loading the ASA configuration through the `rampart check` front end.

use std::path::Path;

use rampart_ike::config::IkeConfig;
use rampart_policy::model::PolicyConfig;

use crate::error::Error;

/// What the daemon takes from a configuration: the policy for the data plane and the
/// IKE engine's configuration.
pub struct LoadedConfig {
    pub policy: PolicyConfig,
    pub ike: IkeConfig,
}

/// Loads and checks `path`. Errors carry the rendered diagnostics, each with its file
/// and line; warnings are logged and do not stop the load.
pub fn load(path: &Path) -> Result<LoadedConfig, Error> {
    let loaded = rampart_asa::load_file(path).map_err(|e| Error::Config { diagnostics: e.to_string() })?;
    if loaded.has_errors() {
        return Err(Error::Config { diagnostics: loaded.render_diagnostics(false) });
    }
    let warnings = loaded.render_diagnostics(false);
    if !warnings.trim().is_empty() {
        tracing::warn!(config = %path.display(), "configuration warnings:\n{warnings}");
    }
    Ok(LoadedConfig { policy: loaded.config.policy(), ike: loaded.config.ike() })
}
