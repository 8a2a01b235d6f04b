//! The clock egg's runs are timed by.
//!
//! egg times its iterations and checks its time limit with `quanta`, whose first reading
//! in a process calibrates the CPU's cycle counter against the OS clock for at least 500
//! rounds: 0.6 ms, more than a one-shot `grad xᵀAx` spends in the library. A run here
//! reads a mock quanta clock instead, which the scheduler sets to the OS clock's reading
//! before and after each rule's search and application ([`sync`]). egg's time limit,
//! checked after each of those, sees the same time as before; the iteration times
//! `BRACKET_EGRAPH_DEBUG` prints leave out only the rebuild.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

thread_local! {
    /// The mock clock of the run on this thread, with the OS clock's reading at its zero.
    static RUN: RefCell<Option<(Arc<quanta::Mock>, Instant)>> = const { RefCell::new(None) };
    /// Calls of [`sync`] on this thread.
    static CALLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// [`sync`] reads the OS clock once in this many calls: a search is a few microseconds
/// on small e-graphs, where a reading each (in this VM's clock, tens of nanoseconds)
/// was 6% of a query; the time limit is a bound of seconds.
const READ_EVERY: u32 = 8;

/// `f` with egg's clock the OS clock, read at each [`sync`].
pub fn os_timed<T>(f: impl FnOnce() -> T) -> T {
    let (clock, mock) = quanta::Clock::mock();
    let outer = RUN.with(|run| run.replace(Some((mock, Instant::now()))));
    CALLS.with(|c| c.set(0));
    let out = quanta::with_clock(&clock, f);
    RUN.with(|run| run.replace(outer));
    out
}

/// Moves the run's clock on to the OS clock's time (nothing outside [`os_timed`]), at
/// the first call of a run and every [`READ_EVERY`]th after.
pub fn sync() {
    let calls = CALLS.with(|c| {
        let n = c.get();
        c.set(n.wrapping_add(1));
        n
    });
    if calls % READ_EVERY != 0 {
        return;
    }
    RUN.with(|run| {
        if let Some((mock, zero)) = run.borrow().as_ref() {
            let now = u64::try_from(zero.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let shown = mock.value();
            if now > shown {
                mock.increment(now - shown);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_run_s_clock_follows_the_os_clock_at_each_sync() {
        os_timed(|| {
            let start = quanta::Instant::now();
            std::thread::sleep(Duration::from_millis(5));
            assert_eq!(start.elapsed(), Duration::ZERO, "the mock moves only at a sync");
            sync();
            assert!(start.elapsed() >= Duration::from_millis(5));
        });
    }

    #[test]
    fn a_time_limit_still_stops_a_run() {
        // A zero limit: egg's check after the first rule's search reads the synced clock.
        let model = crate::read::elaborate::read_scalar_with("(x - m)^T S^-1 (x - m)", &[]).unwrap();
        let e = model.main_expr().unwrap().clone();
        let limits = crate::egraph::Limits { time: Duration::ZERO, ..Default::default() };
        let options = crate::egraph::Options { limits, sizes: None };
        let (_, report) = crate::egraph::simplify_expr(&e, &model, &options);
        assert_eq!(report.stop, "time limit");
        assert!(report.limited);
    }
}
