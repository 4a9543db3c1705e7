//! What the app tells the web UI: the initialization script that sets
//! `window.__IFC_CONFIG__` (ui/src/app/config.ts) before the bundle runs, and
//! the agent state pushed on every change (read by
//! ui/src/pages/inspect/enroll/desktop.ts).

use crate::config::Config;
use crate::supervisor::AgentState;
use serde_json::json;

/// init_script makes the shared UI bundle render the inspector screens
/// against the supervised agent, and hands it the desktop facts it shows.
pub fn init_script(cfg: &Config, agent: &AgentState) -> String {
    let config = json!({ "mode": "edge", "edge_url": cfg.agent_url() });
    let desktop = json!({
        "app_version": env!("CARGO_PKG_VERSION"),
        "cloud_addr": cfg.cloud_addr,
        "agent": agent,
    });
    format!(
        "window.__IFC_CONFIG__ = {config};\n\
         window.__IFC_DESKTOP__ = {desktop};\n\
         window.__ifcDesktopSetAgent = function (a) {{\n\
           window.__IFC_DESKTOP__.agent = a;\n\
           window.dispatchEvent(new CustomEvent('ifc-desktop-agent', {{ detail: a }}));\n\
         }};\n"
    )
}

/// push_script delivers a new agent state to a page that already ran init_script.
pub fn push_script(agent: &AgentState) -> String {
    let a = serde_json::to_string(agent).unwrap_or_else(|_| "null".into());
    format!("window.__ifcDesktopSetAgent && window.__ifcDesktopSetAgent({a});")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::{Phase, Supervisor};

    #[test]
    fn init_script_sets_edge_mode_and_agent_url() {
        let cfg = Config { agent_http_addr: "127.0.0.1:18081".into(), cloud_addr: "cloud:9090".into(), ..Config::default() };
        let st = Supervisor::new(cfg.clone(), |_| {}).state();
        let s = init_script(&cfg, &st);
        let first = s.lines().next().unwrap();
        assert!(first.starts_with("window.__IFC_CONFIG__ = {"), "{s}");
        assert!(first.contains(r#""mode":"edge""#) && first.contains(r#""edge_url":"http://127.0.0.1:18081""#), "{s}");
        assert!(s.contains(r#""cloud_addr":"cloud:9090""#), "{s}");
        assert!(s.contains(r#""phase":"starting""#), "{s}");
        assert_eq!(st.phase, Phase::Starting);
    }

    #[test]
    fn push_script_escapes_output() {
        let cfg = Config::default();
        let mut st = Supervisor::new(cfg, |_| {}).state();
        st.output_tail = vec!["</script> \"quoted\" \u{2028}".into()];
        let s = push_script(&st);
        assert!(s.starts_with("window.__ifcDesktopSetAgent && window.__ifcDesktopSetAgent({"));
        assert!(s.contains(r#"\"quoted\""#));
    }
}
