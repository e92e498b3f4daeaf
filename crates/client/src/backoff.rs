//! Reconnect delays: exponential growth, a cap, and jitter, as described by
//! [`ReconnectPolicy`]. Pure arithmetic; the randomness is passed in so the
//! schedule can be tested exactly.

use std::time::Duration;

use crate::options::ReconnectPolicy;

/// The delay before reconnect attempt `attempt` (1 for the first), given a
/// uniform random `unit` in `[0, 1)`.
pub(crate) fn delay(policy: &ReconnectPolicy, attempt: u32, unit: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(64) as i32;
    let growth = policy.multiplier.max(1.0).powi(exponent);
    let nominal = policy.initial_delay.as_secs_f64() * growth;
    let capped = nominal.min(policy.max_delay.as_secs_f64());
    let jitter = policy.jitter.clamp(0.0, 1.0) * unit.clamp(0.0, 1.0);
    let secs = capped * (1.0 - jitter);
    if secs.is_finite() && secs > 0.0 {
        Duration::from_secs_f64(secs)
    } else {
        Duration::ZERO
    }
}

/// [`delay`] with a fresh random draw.
pub(crate) fn next_delay(policy: &ReconnectPolicy, attempt: u32) -> Duration {
    delay(policy, attempt, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            multiplier: 2.0,
            jitter: 0.5,
            ..ReconnectPolicy::default()
        }
    }

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let p = policy();
        let ms = |n| delay(&p, n, 0.0).as_millis();
        assert_eq!(
            [ms(1), ms(2), ms(3), ms(4), ms(7), ms(8)],
            [100, 200, 400, 800, 5000, 5000]
        );
        assert_eq!(delay(&p, u32::MAX, 0.0), Duration::from_secs(5));
    }

    #[test]
    fn jitter_takes_away_at_most_its_share() {
        let p = policy();
        assert_eq!(delay(&p, 3, 0.999_999).as_millis(), 200);
        let d = delay(&p, 3, 0.5);
        assert_eq!(d.as_millis(), 300);
        for _ in 0..1000 {
            let d = next_delay(&p, 2);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
        }
    }

    #[test]
    fn odd_policies_do_not_panic() {
        let p = ReconnectPolicy {
            multiplier: 0.0,
            jitter: 7.0,
            max_delay: Duration::ZERO,
            ..policy()
        };
        assert_eq!(delay(&p, 5, 0.3), Duration::ZERO);
        let p = ReconnectPolicy {
            multiplier: f64::NAN,
            ..policy()
        };
        let _ = delay(&p, 5, 0.3);
    }
}
