//! The client-side rate limit: a pacer (GCRA: each request reserves the next slot of a
//! schedule at the current rate, with a small burst) whose rate adapts to what the tenant grants.
//! It starts at the ceiling (Coupa's documented 25 requests/s by default); a 429 cuts it (once per
//! window, so one overflow is not punished twice) and pauses every request for the `Retry-After`
//! asked; answered requests raise it again, quickly while it is well below the rate at which the
//! last 429 came, slowly near it. `docs/rate-limit.md` has the parameters and measured curves.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most requests sent back to back: half the 20 Coupa's bucket holds (and never more than a
/// second's worth).
const BURST: f64 = 10.0;
/// The rate never falls below this many requests a second.
const FLOOR: f64 = 1.0;
/// A 429 multiplies the rate by this.
const DECREASE: f64 = 0.6;
/// At most one decrease per window: the 429s of requests already in flight are one overflow.
const WINDOW: Duration = Duration::from_millis(300);
/// The increase per answered request while well below the last limit (fraction of ceiling).
const FAST: f64 = 0.002;
/// The increase per answered request near or above the last limit (fraction of ceiling).
const SLOW: f64 = 0.0002;
/// "Near" the last limit: above this fraction of it.
const NEAR: f64 = 0.9;
/// The longest pause a `Retry-After` imposes on every request.
const MAX_PAUSE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct State {
    rate: f64,
    /// When the next request may go at the current rate (GCRA's theoretical arrival time).
    next: Instant,
    /// The rate at which the last 429 came.
    limit: Option<f64>,
    last_decrease: Option<Instant>,
}

/// An adaptive pacer with a ceiling.
#[derive(Debug)]
pub(crate) struct Limiter {
    ceiling: f64,
    state: Mutex<State>,
}

impl Limiter {
    /// A pacer starting at `ceiling` requests a second, never above it.
    pub(crate) fn new(ceiling: u32) -> Self {
        let ceiling = f64::from(ceiling.max(1));
        // As after a long idle time: the first burst may go at once.
        let now = Instant::now();
        let idle = now.checked_sub(Duration::from_secs(60)).unwrap_or(now);
        Self {
            ceiling,
            state: Mutex::new(State {
                rate: ceiling,
                next: idle,
                limit: None,
                last_decrease: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves the next slot; returns how long to wait for it.
    pub(crate) fn reserve(&self, now: Instant) -> Duration {
        let mut s = self.state();
        let interval = Duration::from_secs_f64(1.0 / s.rate);
        // A burst of up to BURST requests (at most a second's worth) may go at once after an
        // idle period.
        let burst = BURST.min(s.rate.floor()).max(1.0);
        let tolerance = interval.mul_f64(burst - 1.0);
        let earliest = now.checked_sub(tolerance).unwrap_or(now);
        let slot = s.next.max(earliest);
        s.next = slot + interval;
        slot.saturating_duration_since(now)
    }

    /// Waits for the next slot.
    pub(crate) async fn until_ready(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// A request was answered (not 429): the rate grows back toward the ceiling.
    pub(crate) fn answered(&self) {
        let mut s = self.state();
        let near = s.limit.is_some_and(|limit| s.rate >= limit * NEAR);
        let step = if near { SLOW } else { FAST } * self.ceiling;
        s.rate = (s.rate + step).min(self.ceiling);
    }

    /// A request was answered 429: the rate is cut (at most once per window) and every request
    /// waits out `retry_after` (at most a minute).
    pub(crate) fn limited(&self, now: Instant, retry_after: Option<Duration>) {
        let mut s = self.state();
        if let Some(wait) = retry_after {
            s.next = s.next.max(now + wait.min(MAX_PAUSE));
        }
        if s.last_decrease
            .is_some_and(|at| now.duration_since(at) < WINDOW)
        {
            return;
        }
        s.limit = Some(s.rate);
        s.rate = (s.rate * DECREASE).max(FLOOR);
        s.last_decrease = Some(now);
    }

    /// The current rate, requests a second.
    pub(crate) fn rate(&self) -> f64 {
        self.state().rate
    }

    /// The rate now and the rate at which the last 429 came, if one did.
    pub(crate) fn learned(&self) -> (f64, Option<f64>) {
        let s = self.state();
        (s.rate, s.limit)
    }

    /// Starts from what an earlier limiter learned: its rate (within the floor and the
    /// ceiling) and the rate of its last 429, from which it probes upwards as after a 429.
    pub(crate) fn resume(&self, rate: f64, limit: Option<f64>) {
        let mut s = self.state();
        if rate.is_finite() {
            s.rate = rate.clamp(FLOOR, self.ceiling);
        }
        s.limit = limit.filter(|l| l.is_finite() && *l > 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_at_the_rate_after_a_burst_of_ten() {
        let limiter = Limiter::new(25);
        let now = Instant::now();
        let waits: Vec<Duration> = (0..12).map(|_| limiter.reserve(now)).collect();
        assert!(waits[..10].iter().all(Duration::is_zero), "{waits:?}");
        assert_eq!(waits[10], Duration::from_millis(40));
        assert_eq!(waits[11], Duration::from_millis(80));
    }

    #[test]
    fn a_429_cuts_the_rate_once_per_window_and_pauses_everyone() {
        let limiter = Limiter::new(25);
        let now = Instant::now();
        limiter.limited(now, Some(Duration::from_secs(1)));
        limiter.limited(
            now + Duration::from_millis(100),
            Some(Duration::from_secs(1)),
        );
        assert_eq!(limiter.rate(), 15.0);
        assert!(limiter.reserve(now) >= Duration::from_millis(1000));
        limiter.limited(now + Duration::from_millis(400), None);
        assert_eq!(limiter.rate(), 9.0);
        // A server asking for an hour pauses for a minute.
        let limiter = Limiter::new(25);
        limiter.limited(now, Some(Duration::from_secs(3600)));
        assert!(limiter.reserve(now) <= MAX_PAUSE);
    }

    #[test]
    fn recovers_quickly_far_from_the_last_limit_and_slowly_near_it() {
        let limiter = Limiter::new(25);
        let now = Instant::now();
        limiter.limited(now, None); // limit 25, rate 15
        for _ in 0..100 {
            limiter.answered();
        }
        // 15 + 100 × 0.05 = 20: fast, well below 22.5.
        assert!((limiter.rate() - 20.0).abs() < 1e-9, "{}", limiter.rate());
        for _ in 0..100 {
            limiter.answered();
        }
        // Past 22.5 the step is a tenth; never above the ceiling.
        assert!(limiter.rate() < 23.0, "{}", limiter.rate());
        for _ in 0..100_000 {
            limiter.answered();
        }
        assert_eq!(limiter.rate(), 25.0);
    }

    #[test]
    fn resumes_from_a_learned_rate_within_its_bounds() {
        let limiter = Limiter::new(25);
        limiter.resume(9.5, Some(11.0));
        assert_eq!(limiter.learned(), (9.5, Some(11.0)));
        limiter.resume(1e9, Some(f64::NAN));
        assert_eq!(limiter.learned(), (25.0, None));
        limiter.resume(0.01, None);
        assert_eq!(limiter.learned(), (FLOOR, None));
        limiter.resume(f64::NAN, None);
        assert_eq!(limiter.learned(), (FLOOR, None));
    }

    #[test]
    fn never_below_the_floor() {
        let limiter = Limiter::new(2);
        let mut now = Instant::now();
        for _ in 0..20 {
            now += Duration::from_secs(1);
            limiter.limited(now, None);
        }
        assert_eq!(limiter.rate(), FLOOR);
    }
}
