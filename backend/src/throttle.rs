//! At most one action per key and interval on this replica (e.g. writing a `last_used_at`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    every: Duration,
    last: Mutex<HashMap<i64, Instant>>,
}

impl Throttle {
    pub fn new(every: Duration) -> Self {
        Throttle {
            every,
            last: Mutex::default(),
        }
    }

    /// Whether the action for `key` may run now (and, if so, records that it does).
    pub fn ready(&self, key: i64) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(&key).is_some_and(|t| t.elapsed() < self.every) {
            return false;
        }
        last.insert(key, Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_is_ready_once_per_interval() {
        let t = super::Throttle::new(std::time::Duration::from_secs(60));
        assert!(t.ready(1));
        assert!(!t.ready(1));
        assert!(t.ready(2));
    }
}
