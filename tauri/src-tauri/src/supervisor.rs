//! Supervisor starts the edge agent (`ifc edge`) as a child process, restarts
//! it with backoff when it exits, stops it when the app exits, and reports a
//! state the window shows (with the agent's stderr tail when it cannot start).

use crate::config::Config;
use crate::stop::Stop;
use serde::Serialize;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Lines of the agent's output kept for the failure screen.
const TAIL_LINES: usize = 30;
/// A run longer than this counts as healthy: the next crash restarts after the shortest wait.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How long the agent gets to drain (it finishes a verdict being saved) before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Phase of the supervised agent, as the window shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Spawned, waiting for /readyz.
    Starting,
    /// Answering /readyz.
    Running,
    /// Could not start or exited; a restart is scheduled.
    Failed,
    /// Stopped because the app is exiting.
    Stopped,
    /// Not managed by the app (manage_agent: false): the UI talks to an agent started elsewhere.
    External,
}

/// AgentState is what the window shows about the agent (pushed to the webview as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentState {
    pub phase: Phase,
    pub pid: Option<u32>,
    /// One sentence: why the agent is not running; kept while it is starting
    /// again after a failure, cleared once it is ready.
    pub reason: String,
    /// The last lines the failed agent wrote (stderr and stdout), newest last.
    pub output_tail: Vec<String>,
    /// Restarts after a failure since the app started.
    pub restarts: u32,
    /// Milliseconds until the next start attempt, when failed.
    pub next_attempt_ms: Option<u64>,
    pub binary: String,
    pub agent_config: String,
    pub http_addr: String,
}

/// Backoff doubles the wait after each failure, from min to max.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff { min, max, next: min }
    }
    /// wait returns the wait before the next attempt and doubles the following one.
    pub fn wait(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
    /// reset goes back to the shortest wait (after a healthy run).
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

type Listener = Arc<dyn Fn(&AgentState) + Send + Sync>;

/// Supervisor owns the agent process. new starts nothing; start spawns the
/// supervising thread; shutdown (idempotent) stops the agent and waits for it.
pub struct Supervisor {
    cfg: Config,
    state: Mutex<AgentState>,
    listener: Listener,
    stop: Stop,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Supervisor {
    /// new prepares a supervisor for cfg; listener is called after every state change.
    pub fn new(cfg: Config, listener: impl Fn(&AgentState) + Send + Sync + 'static) -> Arc<Self> {
        let state = AgentState {
            phase: if cfg.manage_agent { Phase::Starting } else { Phase::External },
            pid: None,
            reason: String::new(),
            output_tail: Vec::new(),
            restarts: 0,
            next_attempt_ms: None,
            binary: cfg.agent_binary.clone(),
            agent_config: cfg.agent_config.clone(),
            http_addr: cfg.agent_http_addr.clone(),
        };
        Arc::new(Supervisor {
            cfg,
            state: Mutex::new(state),
            listener: Arc::new(listener),
            stop: Stop::default(),
            thread: Mutex::new(None),
        })
    }

    /// failed_config makes a supervisor that never starts anything and shows why:
    /// the desktop configuration itself is invalid.
    pub fn failed_config(reason: String, listener: impl Fn(&AgentState) + Send + Sync + 'static) -> Arc<Self> {
        let s = Supervisor::new(Config { manage_agent: false, ..Config::default() }, listener);
        {
            let mut st = s.state.lock().unwrap();
            st.phase = Phase::Failed;
            st.reason = reason;
        }
        s
    }

    /// state is a snapshot of the current state.
    pub fn state(&self) -> AgentState {
        self.state.lock().unwrap().clone()
    }

    /// start spawns the supervising thread (once; no-op when the agent is not managed).
    pub fn start(self: &Arc<Self>) {
        let mut t = self.thread.lock().unwrap();
        if t.is_some() || !self.cfg.manage_agent || self.stop.is_set() {
            return;
        }
        let me = self.clone();
        *t = Some(std::thread::Builder::new().name("agent-supervisor".into()).spawn(move || me.run()).expect("spawn supervisor thread"));
    }

    /// shutdown stops the agent (SIGTERM, then SIGKILL after a grace period) and waits for it.
    pub fn shutdown(&self) {
        self.stop.set();
        let t = self.thread.lock().unwrap().take();
        if let Some(t) = t {
            let _ = t.join();
        }
    }

    fn update(&self, f: impl FnOnce(&mut AgentState)) {
        let snapshot = {
            let mut st = self.state.lock().unwrap();
            let before = st.clone();
            f(&mut st);
            if *st == before {
                return;
            }
            st.clone()
        };
        (self.listener)(&snapshot);
    }

    fn run(&self) {
        let cfg = &self.cfg;
        let mut backoff = Backoff::new(
            Duration::from_millis(cfg.restart_backoff_min_ms),
            Duration::from_millis(cfg.restart_backoff_max_ms),
        );
        loop {
            let started = Instant::now();
            let (reason, tail) = self.run_once();
            if self.stop.is_set() {
                self.update(|s| {
                    s.phase = Phase::Stopped;
                    s.pid = None;
                    s.next_attempt_ms = None;
                });
                return;
            }
            if started.elapsed() > STABLE_AFTER {
                backoff.reset();
            }
            let wait = backoff.wait();
            eprintln!("ifc-desktop: agent: {reason}; restarting in {} ms", wait.as_millis());
            self.update(|s| {
                s.phase = Phase::Failed;
                s.pid = None;
                s.reason = reason;
                s.output_tail = tail;
                s.next_attempt_ms = Some(wait.as_millis() as u64);
            });
            if self.stop.sleep(wait) {
                self.update(|s| {
                    s.phase = Phase::Stopped;
                    s.next_attempt_ms = None;
                });
                return;
            }
            self.update(|s| {
                s.restarts += 1;
                s.phase = Phase::Starting;
                s.next_attempt_ms = None;
            });
        }
    }

    /// run_once starts the agent and supervises it until it exits or stop is
    /// set; it returns why it is not running and its last output lines.
    fn run_once(&self) -> (String, Vec<String>) {
        let cfg = &self.cfg;
        let Some(bin) = resolve_binary(&cfg.agent_binary) else {
            return (
                format!("agent binary not found: {:?} (set agent_binary in the desktop configuration)", cfg.agent_binary),
                Vec::new(),
            );
        };
        if !cfg.agent_config.is_empty() && !Path::new(&cfg.agent_config).is_file() {
            return (format!("agent configuration not found: {}", cfg.agent_config), Vec::new());
        }
        // Refuse early, and say so plainly, when something else holds the port.
        if let Err(e) = TcpListener::bind(&cfg.agent_http_addr) {
            return (
                format!("port {} is taken by another program ({e}); stop it or change agent_http_addr", cfg.agent_http_addr),
                Vec::new(),
            );
        }
        let mut cmd = agent_command(cfg, &bin);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return (format!("cannot start {}: {e}", bin.display()), Vec::new()),
        };
        let pid = child.id();
        eprintln!("ifc-desktop: agent started: pid {pid}: {} {:?}", bin.display(), cmd.get_args().collect::<Vec<_>>());
        // The last failure (reason, output) stays on screen until the agent is ready:
        // a crash loop must not flicker between "failed" and "starting".
        self.update(|s| {
            s.phase = Phase::Starting;
            s.pid = Some(pid);
        });
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let readers = [
            child.stderr.take().map(|r| spawn_reader(r, tail.clone())),
            child.stdout.take().map(|r| spawn_reader(r, tail.clone())),
        ];
        let status = self.watch(&mut child);
        for r in readers.into_iter().flatten() {
            let _ = r.join();
        }
        let tail: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
        let reason = match status {
            Some(st) => explain_exit(st, &tail, cfg),
            None => "stopped".into(),
        };
        (reason, tail)
    }

    /// watch polls the child until it exits (Some) or stop is set (None: it was terminated).
    fn watch(&self, child: &mut Child) -> Option<ExitStatus> {
        let ready_url = format!("{}/readyz", self.cfg.agent_url());
        let mut running = false;
        loop {
            match child.try_wait() {
                Ok(Some(st)) => return Some(st),
                Ok(None) => {}
                Err(e) => eprintln!("ifc-desktop: wait for agent: {e}"),
            }
            if !running && probe(&ready_url) {
                running = true;
                self.update(|s| {
                    s.phase = Phase::Running;
                    s.reason.clear();
                    s.output_tail.clear();
                    s.next_attempt_ms = None;
                });
            }
            if self.stop.sleep(Duration::from_millis(if running { 250 } else { 50 })) {
                terminate(child);
                return None;
            }
        }
    }
}

/// agent_command builds `ifc edge [--config F] --http-addr A [--data-dir D]` with the configured environment.
pub fn agent_command(cfg: &Config, bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("edge");
    if !cfg.agent_config.is_empty() {
        cmd.arg("--config").arg(&cfg.agent_config);
    }
    cmd.arg("--http-addr").arg(&cfg.agent_http_addr);
    if !cfg.agent_data_dir.is_empty() {
        cmd.arg("--data-dir").arg(&cfg.agent_data_dir);
    }
    if !cfg.cloud_addr.is_empty() {
        cmd.env("IFC_EDGE_CLOUD_ADDR", &cfg.cloud_addr);
    }
    cmd.envs(&cfg.agent_env);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe. The agent gets SIGTERM if the
        // thread that spawned it dies, so a crashed app never leaves it
        // holding the camera. (That thread is the supervisor's, which outlives
        // the child by construction: it waits for it.)
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
    }
    cmd
}

/// resolve_binary finds name as a path (when it has a slash) or on PATH.
pub fn resolve_binary(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| p.is_file() && p.metadata().is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| executable(p))
}

/// explain_exit turns the agent's exit and last output into one sentence for the window.
pub fn explain_exit(st: ExitStatus, tail: &[String], cfg: &Config) -> String {
    let text = tail.join("\n");
    let how = match (st.code(), std::os::unix::process::ExitStatusExt::signal(&st)) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "an unknown status".into(),
    };
    if text.contains("address already in use") {
        format!("the agent could not listen on {}: the port is taken ({how})", cfg.agent_http_addr)
    } else if text.contains("invalid edge configuration") || text.contains("parse config") {
        let file = if cfg.agent_config.is_empty() { "(defaults)" } else { cfg.agent_config.as_str() };
        format!("the agent configuration {file} is invalid ({how})")
    } else {
        format!("the agent exited with {how}")
    }
}

/// probe reports whether url answers 200 within a short timeout.
fn probe(url: &str) -> bool {
    ureq::get(url).timeout(Duration::from_millis(500)).call().is_ok_and(|r| r.status() == 200)
}

/// terminate sends SIGTERM, waits up to STOP_GRACE, then SIGKILLs.
fn terminate(child: &mut Child) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill on our own child's pid; it has not been reaped (try_wait saw it running).
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            eprintln!("ifc-desktop: agent stopped");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("ifc-desktop: agent did not stop within {STOP_GRACE:?}; killing it");
    let _ = child.kill();
    let _ = child.wait();
}

/// spawn_reader copies the agent's output to ours (prefixed) and keeps the last TAIL_LINES lines.
fn spawn_reader(r: impl Read + Send + 'static, tail: Arc<Mutex<VecDeque<String>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            eprintln!("[agent] {line}");
            let mut t = tail.lock().unwrap();
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn backoff_doubles_to_max_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let got: Vec<u128> = (0..5).map(|_| b.wait().as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.wait(), Duration::from_millis(100));
    }

    #[test]
    fn command_line() {
        let cfg = Config {
            agent_config: "/etc/ifc/edge.yaml".into(),
            agent_data_dir: "/var/lib/x".into(),
            cloud_addr: "cloud:9090".into(),
            ..Config::default()
        };
        let cmd = agent_command(&cfg, Path::new("/usr/bin/ifc"));
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["edge", "--config", "/etc/ifc/edge.yaml", "--http-addr", "127.0.0.1:8081", "--data-dir", "/var/lib/x"]);
        let env: Vec<_> = cmd.get_envs().map(|(k, v)| (k.to_string_lossy().into_owned(), v.map(|v| v.to_string_lossy().into_owned()))).collect();
        assert!(env.contains(&("IFC_EDGE_CLOUD_ADDR".into(), Some("cloud:9090".into()))));
    }

    #[test]
    fn explain_names_the_cause() {
        use std::os::unix::process::ExitStatusExt;
        let cfg = Config { agent_config: "/e.yaml".into(), ..Config::default() };
        let st = ExitStatus::from_raw(1 << 8);
        let port = explain_exit(st, &["listen tcp 127.0.0.1:8081: bind: address already in use".into()], &cfg);
        assert!(port.contains("port is taken") && port.contains("exit status 1"), "{port}");
        let bad = explain_exit(st, &["invalid edge configuration:".into(), "camera: must be set".into()], &cfg);
        assert!(bad.contains("/e.yaml is invalid"), "{bad}");
        let unparsable = explain_exit(st, &["ifc: parse config /e.yaml: yaml: unmarshal errors:".into()], &cfg);
        assert!(unparsable.contains("/e.yaml is invalid"), "{unparsable}");
        assert!(explain_exit(ExitStatus::from_raw(9), &[], &cfg).contains("signal 9"));
    }

    /// fake_agent writes a shell script standing in for `ifc`.
    fn fake_agent(dir: &Path, body: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join("ifc");
        let mut f = std::fs::File::create(&p).unwrap();
        writeln!(f, "#!/bin/sh\n{body}").unwrap();
        drop(f);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn free_addr() -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    }

    fn wait_for(sup: &Supervisor, what: &str, f: impl Fn(&AgentState) -> bool) -> AgentState {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let st = sup.state();
            if f(&st) {
                return st;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {st:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn missing_binary_is_reported_and_retried() {
        let cfg = Config { agent_binary: "/nonexistent/ifc".into(), restart_backoff_min_ms: 50, ..Config::default() };
        let sup = Supervisor::new(cfg, |_| {});
        sup.start();
        let st = wait_for(&sup, "failed", |s| s.phase == Phase::Failed && s.restarts >= 1);
        assert!(st.reason.contains("agent binary not found"), "{}", st.reason);
        sup.shutdown();
        assert_eq!(sup.state().phase, Phase::Stopped);
    }

    #[test]
    fn crash_shows_the_output_tail_and_restarts() {
        let dir = std::env::temp_dir().join(format!("ifc-desktop-sup-crash-{}", std::process::id()));
        let bin = fake_agent(&dir, "echo 'invalid edge configuration:' >&2\necho 'camera: must be set' >&2\nexit 1");
        let cfg = Config { agent_binary: bin.display().to_string(), agent_http_addr: free_addr(), restart_backoff_min_ms: 50, ..Config::default() };
        let sup = Supervisor::new(cfg, |_| {});
        sup.start();
        let st = wait_for(&sup, "two restarts", |s| s.phase == Phase::Failed && s.restarts >= 2);
        assert!(st.reason.contains("configuration (defaults) is invalid"), "{}", st.reason);
        assert_eq!(st.output_tail, ["invalid edge configuration:", "camera: must be set"]);
        sup.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn port_taken_is_reported_before_spawning() {
        let holder = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = holder.local_addr().unwrap().to_string();
        let dir = std::env::temp_dir().join(format!("ifc-desktop-sup-port-{}", std::process::id()));
        let bin = fake_agent(&dir, "sleep 30");
        let cfg = Config { agent_binary: bin.display().to_string(), agent_http_addr: addr.clone(), ..Config::default() };
        let sup = Supervisor::new(cfg, |_| {});
        sup.start();
        let st = wait_for(&sup, "failed", |s| s.phase == Phase::Failed);
        assert!(st.reason.contains(&format!("port {addr} is taken")), "{}", st.reason);
        sup.shutdown();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shutdown_terminates_a_running_agent() {
        let dir = std::env::temp_dir().join(format!("ifc-desktop-sup-stop-{}", std::process::id()));
        let bin = fake_agent(&dir, "trap 'echo bye >&2; exit 0' TERM\nwhile true; do sleep 0.05; done");
        let changes = Arc::new(Mutex::new(Vec::new()));
        let c2 = changes.clone();
        let cfg = Config { agent_binary: bin.display().to_string(), agent_http_addr: free_addr(), ..Config::default() };
        let sup = Supervisor::new(cfg, move |s| c2.lock().unwrap().push(s.phase));
        sup.start();
        let st = wait_for(&sup, "spawned", |s| s.pid.is_some());
        let pid = st.pid.unwrap() as libc::pid_t;
        let t0 = Instant::now();
        sup.shutdown();
        sup.shutdown(); // idempotent
        assert!(t0.elapsed() < STOP_GRACE, "stopped by SIGTERM, not by the SIGKILL fallback");
        // SAFETY: signal 0 only checks for existence.
        assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the agent process is gone");
        assert_eq!(sup.state().phase, Phase::Stopped);
        assert_eq!(changes.lock().unwrap().last(), Some(&Phase::Stopped));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
