//! Sync watch: polls the agent's GET /api/v1/status and raises a native
//! notification when sync has been failing for longer than the configured
//! threshold, and another when it recovers. The decision logic (SyncAlert)
//! takes the time as an argument so tests drive it without waiting.

use crate::stop::Stop;
use serde::Deserialize;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The part of the agent's StatusJSON the alert needs (edge/inspect/testdata/openapi.golden.json).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    pub queued: u64,
    pub sync_running: bool,
    pub sync_connected: bool,
    pub last_error: String,
    pub sync: Option<SyncState>,
}

/// The agent's SyncJSON (subset).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SyncState {
    pub enrolled: bool,
    pub connected: bool,
    pub revoked: bool,
    pub last_error: String,
}

/// Alert is what to tell the inspector.
#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    /// Sync has been failing for `seconds`; `queued` records wait on the station.
    Failing { seconds: u64, error: String, queued: u64 },
    /// Sync works again after a Failing alert.
    Restored { queued: u64 },
}

/// SyncAlert decides when a sync failure has lasted long enough to notify.
#[derive(Debug)]
pub struct SyncAlert {
    threshold: Duration,
    failing_since: Option<Instant>,
    alerted: bool,
}

impl SyncAlert {
    pub fn new(threshold: Duration) -> Self {
        SyncAlert { threshold, failing_since: None, alerted: false }
    }

    /// observe takes one status sample at `now` and returns an alert to show, if any.
    /// Not enrolled or sync not configured is no failure (the first-run screen handles it).
    pub fn observe(&mut self, now: Instant, st: &Status) -> Option<Alert> {
        let sync = st.sync.as_ref().filter(|s| st.sync_running && s.enrolled);
        let failing = sync.is_some_and(|s| s.revoked || !(st.sync_connected || s.connected));
        if !failing {
            self.failing_since = None;
            if std::mem::take(&mut self.alerted) {
                return Some(Alert::Restored { queued: st.queued });
            }
            return None;
        }
        let since = *self.failing_since.get_or_insert(now);
        let lasted = now.saturating_duration_since(since);
        if self.alerted || lasted < self.threshold {
            return None;
        }
        self.alerted = true;
        let error = sync.map(|s| s.last_error.clone()).filter(|e| !e.is_empty()).unwrap_or_else(|| st.last_error.clone());
        Some(Alert::Failing { seconds: lasted.as_secs(), error, queued: st.queued })
    }
}

/// duration says how long, in minutes from one minute on.
fn duration(seconds: u64, japanese: bool) -> String {
    match (seconds >= 60, japanese) {
        (true, false) => format!("{} min", seconds / 60),
        (false, false) => format!("{seconds} s"),
        (true, true) => format!("{} 分", seconds / 60),
        (false, true) => format!("{seconds} 秒"),
    }
}

/// Message is a notification's title and body, in the inspector's language.
pub fn message(a: &Alert, japanese: bool) -> (String, String) {
    match (a, japanese) {
        (Alert::Failing { seconds, error, queued }, false) => (
            "ImageFlowCanvas: sync is failing".into(),
            format!(
                "No sync with the cloud for {}; {queued} record(s) are kept on this station and will be sent later.{}",
                duration(*seconds, false),
                if error.is_empty() { String::new() } else { format!(" Last error: {error}") }
            ),
        ),
        (Alert::Failing { seconds, error, queued }, true) => (
            "ImageFlowCanvas: 同期できません".into(),
            format!(
                "{}間クラウドと同期できていません。{queued} 件の記録はこの端末に保存され、後で送信されます。{}",
                duration(*seconds, true),
                if error.is_empty() { String::new() } else { format!(" 最後のエラー: {error}") }
            ),
        ),
        (Alert::Restored { queued }, false) => (
            "ImageFlowCanvas: sync restored".into(),
            format!("The station is syncing with the cloud again; {queued} record(s) left to send."),
        ),
        (Alert::Restored { queued }, true) => (
            "ImageFlowCanvas: 同期が復旧しました".into(),
            format!("クラウドとの同期を再開しました。未送信 {queued} 件。"),
        ),
    }
}

/// spawn polls status_url every `every` until stop is set, calling notify with each alert.
pub fn spawn(
    status_url: String,
    every: Duration,
    threshold: Duration,
    stop: Arc<Stop>,
    notify: impl Fn(&Alert) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("sync-watch".into())
        .spawn(move || {
            let mut alert = SyncAlert::new(threshold);
            loop {
                let st = ureq::get(&status_url)
                    .timeout(Duration::from_secs(3))
                    .call()
                    .ok()
                    .and_then(|r| r.into_json::<Status>().ok());
                // An unreachable agent is the supervisor's to report, not a sync failure.
                if let Some(st) = st {
                    if let Some(a) = alert.observe(Instant::now(), &st) {
                        notify(&a);
                    }
                }
                if stop.sleep(every) {
                    return;
                }
            }
        })
        .expect("spawn sync-watch thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(json: &str) -> Status {
        serde_json::from_str(json).unwrap()
    }

    const OFFLINE: &str = r#"{"queued": 3, "sync_running": true, "sync_connected": false, "last_error": "",
        "sync": {"enrolled": true, "connected": false, "revoked": false, "last_error": "dial tcp: connection refused"}}"#;
    const ONLINE: &str = r#"{"queued": 0, "sync_running": true, "sync_connected": true,
        "sync": {"enrolled": true, "connected": true, "revoked": false, "last_error": ""}}"#;

    #[test]
    fn alerts_once_after_threshold_then_restores() {
        let t0 = Instant::now();
        let min = Duration::from_secs(60);
        let mut a = SyncAlert::new(10 * min);
        assert_eq!(a.observe(t0, &st(OFFLINE)), None);
        assert_eq!(a.observe(t0 + 9 * min, &st(OFFLINE)), None);
        assert_eq!(
            a.observe(t0 + 10 * min, &st(OFFLINE)),
            Some(Alert::Failing { seconds: 600, error: "dial tcp: connection refused".into(), queued: 3 })
        );
        assert_eq!(a.observe(t0 + 20 * min, &st(OFFLINE)), None, "one alert per failure");
        assert_eq!(a.observe(t0 + 21 * min, &st(ONLINE)), Some(Alert::Restored { queued: 0 }));
        assert_eq!(a.observe(t0 + 22 * min, &st(ONLINE)), None);
    }

    #[test]
    fn a_short_outage_is_not_alerted() {
        let t0 = Instant::now();
        let mut a = SyncAlert::new(Duration::from_secs(600));
        assert_eq!(a.observe(t0, &st(OFFLINE)), None);
        assert_eq!(a.observe(t0 + Duration::from_secs(300), &st(ONLINE)), None);
        assert_eq!(a.observe(t0 + Duration::from_secs(301), &st(OFFLINE)), None, "the clock starts again");
        assert_eq!(a.observe(t0 + Duration::from_secs(800), &st(OFFLINE)), None);
        assert!(a.observe(t0 + Duration::from_secs(901), &st(OFFLINE)).is_some());
    }

    #[test]
    fn not_enrolled_or_disabled_is_not_a_failure() {
        let t0 = Instant::now();
        let mut a = SyncAlert::new(Duration::from_secs(1));
        let not_enrolled = st(r#"{"sync_running": true, "sync": {"enrolled": false, "last_error": "not enrolled"}}"#);
        let disabled = st(r#"{"sync_running": false, "sync": null}"#);
        for i in 0..5 {
            assert_eq!(a.observe(t0 + Duration::from_secs(i * 10), &not_enrolled), None);
            assert_eq!(a.observe(t0 + Duration::from_secs(i * 10 + 5), &disabled), None);
        }
    }

    #[test]
    fn revoked_is_a_failure() {
        let t0 = Instant::now();
        let mut a = SyncAlert::new(Duration::from_secs(1));
        let revoked = st(r#"{"sync_running": true, "sync_connected": true, "sync": {"enrolled": true, "connected": true, "revoked": true, "last_error": "revoked"}}"#);
        assert_eq!(a.observe(t0, &revoked), None);
        assert!(matches!(a.observe(t0 + Duration::from_secs(2), &revoked), Some(Alert::Failing { .. })));
    }

    #[test]
    fn messages_in_both_languages() {
        let f = Alert::Failing { seconds: 12 * 60 + 5, error: "boom".into(), queued: 4 };
        let (t, b) = message(&f, false);
        assert!(t.contains("failing") && b.contains("for 12 min;") && b.contains("4 record") && b.contains("boom"), "{b}");
        let (t, b) = message(&f, true);
        assert!(t.contains("同期") && b.contains("12 分間") && b.contains("4 件"), "{b}");
        let (_, b) = message(&Alert::Failing { seconds: 6, error: String::new(), queued: 0 }, false);
        assert!(b.contains("for 6 s;") && !b.contains("Last error"), "{b}");
    }
}
