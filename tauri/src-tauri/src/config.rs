//! Desktop configuration: one JSON file, defaults in code, every key documented
//! in tauri/README.md.
//!
//! Where it is read from, first match wins:
//! 1. `$IFC_DESKTOP_CONFIG` (must exist when set);
//! 2. `$XDG_CONFIG_HOME/ifc-desktop/config.json` (default `~/.config/...`);
//! 3. `/etc/ifc/desktop.json` (what an integrator ships on a line terminal);
//! 4. none: the defaults.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "IFC_DESKTOP_CONFIG";
/// System-wide configuration file, used when the user has none.
pub const SYSTEM_CONFIG: &str = "/etc/ifc/desktop.json";

/// Config is the desktop app's configuration (JSON, unknown keys refused).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Start and supervise the agent (true), or only connect to one already
    /// running at `agent_http_addr`, e.g. the `ifc-edge` systemd unit (false).
    pub manage_agent: bool,
    /// The `ifc` binary: a path, or a name looked up on PATH.
    pub agent_binary: String,
    /// The agent's YAML file (`ifc edge --config`); empty: the agent's defaults.
    pub agent_config: String,
    /// Loopback host:port of the agent's local API, passed as `--http-addr`
    /// (it overrides `http_addr` in the YAML) and given to the web UI.
    pub agent_http_addr: String,
    /// The agent's data directory (`--data-dir`); empty: the YAML's or the agent's default.
    pub agent_data_dir: String,
    /// Extra environment for the agent (e.g. `IFC_EDGE_LOG_LEVEL`, `LD_LIBRARY_PATH`).
    pub agent_env: BTreeMap<String, String>,
    /// host:port of the cloud's gRPC sync endpoint. Given to the agent as
    /// `IFC_EDGE_CLOUD_ADDR` (so sync is on even if the YAML has no
    /// `cloud_addr`) and pre-filled on the first-run enrollment screen.
    pub cloud_addr: String,
    /// Full screen without window decorations, for line terminals.
    pub kiosk: bool,
    /// Show a native notification once sync has been failing this long (minutes, > 0).
    pub sync_alert_minutes: f64,
    /// How often the app polls the agent's status for the sync alert (seconds).
    pub status_poll_seconds: f64,
    /// First and longest wait before restarting a crashed agent (milliseconds).
    pub restart_backoff_min_ms: u64,
    pub restart_backoff_max_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            manage_agent: true,
            agent_binary: "ifc".into(),
            agent_config: String::new(),
            agent_http_addr: "127.0.0.1:8081".into(),
            agent_data_dir: String::new(),
            agent_env: BTreeMap::new(),
            cloud_addr: String::new(),
            kiosk: false,
            sync_alert_minutes: 10.0,
            status_poll_seconds: 15.0,
            restart_backoff_min_ms: 500,
            restart_backoff_max_ms: 30_000,
        }
    }
}

/// Error is a configuration that cannot be read or is invalid; it names the file and field.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Loaded is a validated configuration and the file it came from (None: defaults).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: Option<PathBuf>,
}

/// load finds, reads and validates the configuration (see the module doc for the search order).
pub fn load() -> Result<Loaded, Error> {
    let env = std::env::var_os(ENV_CONFIG).filter(|v| !v.is_empty()).map(PathBuf::from);
    let path = match env {
        Some(p) => Some(p),
        None => [user_config_path(), Some(PathBuf::from(SYSTEM_CONFIG))]
            .into_iter()
            .flatten()
            .find(|p| p.is_file()),
    };
    let config = match &path {
        Some(p) => read(p)?,
        None => Config::default(),
    };
    config.validate().map_err(|e| match &path {
        Some(p) => Error(format!("{}: {}", p.display(), e.0)),
        None => e,
    })?;
    Ok(Loaded { config, path })
}

/// user_config_path is `$XDG_CONFIG_HOME/ifc-desktop/config.json` (or under `~/.config`).
pub fn user_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some(base.join("ifc-desktop").join("config.json"))
}

/// read parses one configuration file over the defaults.
pub fn read(path: &Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error(format!("read {}: {e}", path.display())))?;
    parse(&text).map_err(|e| Error(format!("{}: {}", path.display(), e.0)))
}

/// parse reads the JSON text over the defaults (unknown keys are an error).
pub fn parse(text: &str) -> Result<Config, Error> {
    serde_json::from_str(text).map_err(|e| Error(format!("invalid JSON: {e}")))
}

impl Config {
    /// validate checks every field, naming each bad one.
    pub fn validate(&self) -> Result<(), Error> {
        let mut bad = Vec::new();
        if self.manage_agent && self.agent_binary.trim().is_empty() {
            bad.push("agent_binary: must be set when manage_agent is true".to_string());
        }
        // 127.0.0.1 only: the agent's local API has no authentication, and the
        // webview's content security policy (tauri.conf.json) allows no other host.
        match self.agent_http_addr.parse::<SocketAddr>() {
            Ok(a) if a.ip() == std::net::Ipv4Addr::LOCALHOST && a.port() != 0 => {}
            Ok(a) => bad.push(format!(
                "agent_http_addr: {a}: want 127.0.0.1:<port> (the agent's API has no authentication; the webview may only reach 127.0.0.1)"
            )),
            Err(_) => bad.push(format!(
                "agent_http_addr: {:?}: want ip:port such as 127.0.0.1:8081",
                self.agent_http_addr
            )),
        }
        if !self.cloud_addr.is_empty() {
            let ok = self
                .cloud_addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
                && !self.cloud_addr.contains('/');
            if !ok {
                bad.push(format!(
                    "cloud_addr: {:?}: want host:port of the cloud sync endpoint (gRPC), e.g. cloud.example.com:9090",
                    self.cloud_addr
                ));
            }
        }
        if !(self.sync_alert_minutes > 0.0 && self.sync_alert_minutes <= 24.0 * 60.0) {
            bad.push(format!("sync_alert_minutes: {} is outside (0, 1440]", self.sync_alert_minutes));
        }
        if !(self.status_poll_seconds >= 0.5 && self.status_poll_seconds <= 600.0) {
            bad.push(format!("status_poll_seconds: {} is outside 0.5..600", self.status_poll_seconds));
        }
        if self.restart_backoff_min_ms < 50 || self.restart_backoff_min_ms > self.restart_backoff_max_ms {
            bad.push(format!(
                "restart_backoff_min_ms: {} is outside 50..restart_backoff_max_ms ({})",
                self.restart_backoff_min_ms, self.restart_backoff_max_ms
            ));
        }
        if self.restart_backoff_max_ms > 10 * 60 * 1000 {
            bad.push(format!("restart_backoff_max_ms: {} is above 10 minutes", self.restart_backoff_max_ms));
        }
        for k in self.agent_env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                bad.push(format!("agent_env: {k:?} is not an environment variable name"));
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(Error(bad.join("; ")))
        }
    }

    /// agent_url is the base URL of the agent's local API, as the web UI uses it.
    pub fn agent_url(&self) -> String {
        format!("http://{}", self.agent_http_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
        assert_eq!(Config::default().agent_url(), "http://127.0.0.1:8081");
    }

    #[test]
    fn parse_overlays_defaults() {
        let c = parse(r#"{"agent_binary": "/opt/ifc/bin/ifc", "kiosk": true, "agent_env": {"IFC_EDGE_LOG_LEVEL": "debug"}}"#).unwrap();
        assert_eq!(c.agent_binary, "/opt/ifc/bin/ifc");
        assert!(c.kiosk);
        assert_eq!(c.agent_http_addr, "127.0.0.1:8081");
        assert_eq!(c.agent_env["IFC_EDGE_LOG_LEVEL"], "debug");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse(r#"{"agent_bin": "ifc"}"#).unwrap_err();
        assert!(e.0.contains("agent_bin"), "{e}");
    }

    #[test]
    fn validate_names_each_bad_field() {
        let cases: &[(&str, &str)] = &[
            (r#"{"agent_http_addr": "0.0.0.0:8081"}"#, "agent_http_addr"),
            (r#"{"agent_http_addr": "localhost"}"#, "agent_http_addr"),
            (r#"{"agent_http_addr": "127.0.0.2:8081"}"#, "agent_http_addr"),
            (r#"{"agent_http_addr": "127.0.0.1:0"}"#, "agent_http_addr"),
            (r#"{"cloud_addr": "http://cloud:9090"}"#, "cloud_addr"),
            (r#"{"cloud_addr": "cloud"}"#, "cloud_addr"),
            (r#"{"sync_alert_minutes": 0}"#, "sync_alert_minutes"),
            (r#"{"status_poll_seconds": 0.1}"#, "status_poll_seconds"),
            (r#"{"restart_backoff_min_ms": 5000, "restart_backoff_max_ms": 1000}"#, "restart_backoff_min_ms"),
            (r#"{"agent_binary": " "}"#, "agent_binary"),
            (r#"{"agent_env": {"A=B": "x"}}"#, "agent_env"),
        ];
        for (json, field) in cases {
            let e = parse(json).unwrap().validate().unwrap_err();
            assert!(e.0.starts_with(field), "{json}: {e}");
        }
        parse(r#"{"cloud_addr": "cloud.example.com:9090"}"#).unwrap().validate().unwrap();
        parse(r#"{"manage_agent": false, "agent_binary": ""}"#).unwrap().validate().unwrap();
    }

    #[test]
    fn read_parses_and_names_the_file() {
        let dir = std::env::temp_dir().join(format!("ifc-desktop-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.json");
        std::fs::write(&p, r#"{"agent_http_addr": "127.0.0.1:9999"}"#).unwrap();
        let c = read(&p).unwrap();
        assert_eq!(c.agent_http_addr, "127.0.0.1:9999");
        std::fs::write(&p, "{").unwrap();
        assert!(read(&p).unwrap_err().0.contains("c.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
