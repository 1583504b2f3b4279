//! The CLI's config file, written by `aidledger init`: the node, the trust
//! anchors the operator published (vkey, genesis), the path of this user's
//! key and the organisation it signs for. Every value is a default: a flag,
//! or an `AIDLEDGER_*` environment variable, overrides it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rust_i18n::t;
use serde::{Deserialize, Serialize};

/// What `init` writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Base URL of the node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The log's origin, as the node's checkpoints name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The node's checkpoint vkey.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vkey: Option<String>,
    /// The genesis leaf hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genesis: Option<String>,
    /// This user's signing key file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// The organisation this user signs for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The pseudonym secret file of older versions: read so that an old
    /// config still loads, never used or written (pseudonyms come from the
    /// pseudonym service, SPEC §6.3).
    #[serde(default, skip_serializing)]
    pub secret_file: Option<PathBuf>,
}

/// The variable naming another config file.
pub const CONFIG_VAR: &str = "AIDLEDGER_CONFIG";

/// The variable (and config value) of the node's URL.
pub const NODE_VAR: &str = "AIDLEDGER_NODE";

/// `$AIDLEDGER_CONFIG`, else `$XDG_CONFIG_HOME/aidledger/config.toml`, else
/// `~/.config/aidledger/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_VAR) {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("aidledger").join("config.toml"))
}

impl Config {
    /// Reads `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| t!("config.invalid", path = path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| t!("io.reading", path = path.display())),
        }
    }

    /// Writes `path` (its folder created), whole or not at all.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| t!("io.creating", path = dir.display()))?;
        }
        let text = format!(
            "# aidledger's settings, written by `aidledger init`. Flags and AIDLEDGER_* variables override them.\n{}",
            toml::to_string(self)?
        );
        crate::write_durably(path, text.as_bytes())
            .with_context(|| t!("io.writing", path = path.display()))
    }

    /// The variables the command line reads its defaults from, for the
    /// values this config sets and the environment does not.
    pub fn as_env(&self) -> Vec<(&'static str, String)> {
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        [
            (NODE_VAR, self.node.clone()),
            ("AIDLEDGER_VKEY", self.vkey.clone()),
            ("AIDLEDGER_GENESIS", self.genesis.clone()),
            ("AIDLEDGER_KEY", path(&self.key)),
            ("AIDLEDGER_ISSUER", self.issuer.clone()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_round_trips_and_only_fills_what_is_unset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let c = Config {
            node: Some("http://127.0.0.1:9".into()),
            vkey: Some("n+0000abcd+AQ".into()),
            issuer: Some("CN-USCI-53440300MJ0000018R".into()),
            ..Config::default()
        };
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        let names: Vec<&str> = c.as_env().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["AIDLEDGER_NODE", "AIDLEDGER_VKEY", "AIDLEDGER_ISSUER"]
        );
        std::fs::write(&path, "nod = 1\n").unwrap();
        assert!(Config::load(&path).is_err());
    }
}
