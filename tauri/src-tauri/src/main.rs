//! ImageFlowCanvas inspector desktop app: the web UI's inspector screens
//! (ui/dist, the same bundle the agent serves) in a WebKitGTK window, with
//! the edge agent started and supervised as a child process.
//!
//! Composition root: load the configuration, build the window, start the
//! supervisor and the sync watch; on exit stop them in reverse order.

mod config;
mod stop;
mod supervisor;
mod syncwatch;
mod webview;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use stop::Stop;
use supervisor::{AgentState, Supervisor};
use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_notification::NotificationExt;

const WINDOW: &str = "main";

/// Background work owned by the app, stopped on exit.
struct Workers {
    supervisor: Arc<Supervisor>,
    watch_stop: Arc<Stop>,
    watch: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Workers {
    /// shutdown stops the sync watch, then the agent (idempotent).
    fn shutdown(&self) {
        self.watch_stop.set();
        if let Some(t) = self.watch.lock().unwrap().take() {
            let _ = t.join();
        }
        self.supervisor.shutdown();
    }
}

fn main() {
    let (cfg, supervisor_for) = match config::load() {
        Ok(l) => {
            match &l.path {
                Some(p) => eprintln!("ifc-desktop: configuration {}", p.display()),
                None => eprintln!("ifc-desktop: no configuration file; defaults (see tauri/README.md)"),
            }
            (l.config, None)
        }
        Err(e) => {
            eprintln!("ifc-desktop: {e}");
            (config::Config::default(), Some(format!("invalid desktop configuration: {e}")))
        }
    };

    // The supervisor reports to the window once it exists.
    let app_handle: Arc<Mutex<Option<AppHandle>>> = Arc::new(Mutex::new(None));
    let listener = {
        let h = app_handle.clone();
        move |st: &AgentState| push_agent_state(&h, st)
    };
    let config_ok = supervisor_for.is_none();
    let supervisor = match supervisor_for {
        None => Supervisor::new(cfg.clone(), listener),
        Some(reason) => Supervisor::failed_config(reason, listener),
    };
    let workers = Arc::new(Workers { supervisor: supervisor.clone(), watch_stop: Arc::new(Stop::default()), watch: Mutex::new(None) });

    let setup_cfg = cfg.clone();
    let setup_workers = workers.clone();
    let app = tauri::Builder::default()
        // First: a second launch hands over to this one and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            eprintln!("ifc-desktop: another launch was refused; focusing this window");
            if let Some(w) = app.get_webview_window(WINDOW) {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            let cfg = setup_cfg;
            *app_handle.lock().unwrap() = Some(app.handle().clone());
            let sup = setup_workers.supervisor.clone();
            let window = WebviewWindowBuilder::new(app, WINDOW, WebviewUrl::App("index.html".into()))
                .title("ImageFlowCanvas Inspector")
                .inner_size(1280.0, 800.0)
                .min_inner_size(800.0, 600.0)
                .fullscreen(cfg.kiosk)
                .decorations(!cfg.kiosk)
                .initialization_script(webview::init_script(&cfg, &sup.state()))
                .on_page_load(move |w, p| {
                    // The state may have changed since the init script was built.
                    if p.event() == PageLoadEvent::Finished {
                        let _ = w.eval(webview::push_script(&sup.state()));
                    }
                })
                .build()?;
            enable_webrtc(&window);
            if cfg.kiosk {
                cover_monitor(&window);
            }

            setup_workers.supervisor.start();
            // The sync watch also follows an agent the app does not manage.
            if config_ok {
                let handle = app.handle().clone();
                let japanese = std::env::var("LANG").unwrap_or_default().starts_with("ja");
                let t = syncwatch::spawn(
                    format!("{}/api/v1/status", cfg.agent_url()),
                    Duration::from_secs_f64(cfg.status_poll_seconds),
                    Duration::from_secs_f64(cfg.sync_alert_minutes * 60.0),
                    setup_workers.watch_stop.clone(),
                    move |a| {
                        let (title, body) = syncwatch::message(a, japanese);
                        eprintln!("ifc-desktop: notification: {title}: {body}");
                        if let Err(e) = handle.notification().builder().title(title).body(body).show() {
                            eprintln!("ifc-desktop: notification failed: {e}");
                        }
                    },
                );
                *setup_workers.watch.lock().unwrap() = Some(t);
            }
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("build the Tauri application");

    app.run(move |_app, event| {
        if let RunEvent::Exit = event {
            workers.shutdown();
        }
    });
}

/// push_agent_state sends the supervisor's state to the window, if it exists yet.
fn push_agent_state(handle: &Mutex<Option<AppHandle>>, st: &AgentState) {
    eprintln!("ifc-desktop: agent {:?} {}", st.phase, st.reason);
    let Some(h) = handle.lock().unwrap().clone() else { return };
    if let Some(w) = h.get_webview_window(WINDOW) {
        let _ = w.eval(webview::push_script(st));
    }
}

/// cover_monitor sizes the window to its whole monitor. Full screen is a
/// request to the window manager; a line terminal often runs the app in a bare
/// X session without one, where only this makes the kiosk window fill the screen.
fn cover_monitor(window: &tauri::WebviewWindow) {
    let monitor = window.current_monitor().ok().flatten().or_else(|| window.primary_monitor().ok().flatten());
    if let Some(m) = monitor {
        let _ = window.set_position(*m.position());
        let _ = window.set_size(*m.size());
    }
}

/// enable_webrtc turns on WebKitGTK's WebRTC (off by default) for the WHEP live preview.
#[cfg(target_os = "linux")]
fn enable_webrtc(window: &tauri::WebviewWindow) {
    let r = window.with_webview(|wv| {
        use webkit2gtk::{SettingsExt, WebViewExt};
        if let Some(s) = wv.inner().settings() {
            s.set_enable_webrtc(true);
            s.set_enable_media_stream(true);
        }
    });
    if let Err(e) = r {
        eprintln!("ifc-desktop: enable WebRTC: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn enable_webrtc(_window: &tauri::WebviewWindow) {}
