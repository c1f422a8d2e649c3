//! The threads rule calls run on.
//!
//! Guest code runs only on these workers: each has a native stack of
//! [`WORKER_STACK_BYTES`], so a recursing guest hits its wasm stack limit
//! (and traps with `stack-overflow`) long before the thread's own stack,
//! whatever the stack of the thread that asked for the evaluation. The rules
//! of one request are spread over the workers, so a rule that stalls until
//! its deadline holds one worker while the others go on.

use rayon::prelude::*;

use super::limits::WORKER_STACK_BYTES;

/// A fixed pool of worker threads for rule calls.
pub struct Workers {
    pool: rayon::ThreadPool,
    count: usize,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("count", &self.count)
            .finish()
    }
}

impl Workers {
    /// Starts `count` workers.
    ///
    /// # Errors
    ///
    /// Returns the OS error when a thread cannot be started.
    pub fn start(count: usize) -> Result<Workers, String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(count)
            .stack_size(WORKER_STACK_BYTES)
            .thread_name(|i| format!("hongbao-rule-{i}"))
            .build()
            .map_err(|e| format!("cannot start {count} rule workers: {e}"))?;
        Ok(Workers { pool, count })
    }

    /// How many workers there are.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Runs `f` on a worker and waits for its result.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        self.pool.install(f)
    }

    /// Runs `f` on every item, spread over the workers, and returns the
    /// results in the order of `items`.
    pub fn map<I: Sync, T: Send>(&self, items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
        match items {
            [] => Vec::new(),
            // One item needs no fan-out, only a worker's stack.
            [one] => vec![self.run(|| f(one))],
            // At most one chunk per worker: one hand-off per worker per
            // request, not one per rule.
            _ => {
                let chunk = (items.len() / self.count).max(1);
                self.pool
                    .install(|| items.par_iter().with_min_len(chunk).map(&f).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let w = Workers::start(2).expect("workers");
        let items: Vec<u64> = (0..100).collect();
        assert_eq!(
            w.map(&items, |i| i * 3),
            (0..100).map(|i| i * 3).collect::<Vec<_>>()
        );
        assert_eq!(w.map(&[] as &[u64], |i| *i), Vec::<u64>::new());
        assert_eq!(w.count(), 2);
    }

    /// Two items that can only finish if both run at the same time: each
    /// waits for a message the other sends. On one thread this would time
    /// out; on the pool both finish.
    #[test]
    fn items_run_on_two_workers_at_once() {
        let w = Workers::start(2).expect("workers");
        let (tx0, rx0) = mpsc::channel::<()>();
        let (tx1, rx1) = mpsc::channel::<()>();
        let ends = [Mutex::new(Some((tx1, rx0))), Mutex::new(Some((tx0, rx1)))];
        let met = w.map(&[0usize, 1], |&i| {
            let (tx, rx) = ends[i].lock().expect("lock").take().expect("once");
            tx.send(()).expect("send");
            rx.recv_timeout(Duration::from_secs(30)).is_ok()
        });
        assert_eq!(met, vec![true, true]);
    }

    #[test]
    fn work_runs_on_a_worker_thread_with_the_worker_stack() {
        let w = Workers::start(1).expect("workers");
        let name = Arc::new(Mutex::new(String::new()));
        let n = Arc::clone(&name);
        w.run(move || {
            *n.lock().expect("lock") = std::thread::current().name().unwrap_or("").to_string();
        });
        assert_eq!(name.lock().expect("lock").as_str(), "hongbao-rule-0");
    }
}
