//! A stop signal that background threads can sleep on.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Stop is set once (idempotently) by the owner; workers sleep on it.
#[derive(Default)]
pub struct Stop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl Stop {
    /// set wakes every sleeper; later sleeps return at once.
    pub fn set(&self) {
        *self.stopped.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// is_set reports whether set was called.
    pub fn is_set(&self) -> bool {
        *self.stopped.lock().unwrap()
    }

    /// sleep waits for d or until set; it returns true when stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut stopped = self.stopped.lock().unwrap();
        while !*stopped {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            stopped = self.cv.wait_timeout(stopped, deadline - now).unwrap().0;
        }
        *stopped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn set_wakes_a_sleeper() {
        let s = Arc::new(Stop::default());
        let s2 = s.clone();
        let t0 = Instant::now();
        let h = std::thread::spawn(move || s2.sleep(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(50));
        s.set();
        assert!(h.join().unwrap());
        assert!(t0.elapsed() < Duration::from_secs(5));
        assert!(s.sleep(Duration::from_secs(30)), "a sleep after set returns at once");
    }

    #[test]
    fn sleep_times_out() {
        assert!(!Stop::default().sleep(Duration::from_millis(10)));
    }
}
