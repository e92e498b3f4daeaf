//! What a worker measures and how results from several workers merge:
//! HDR latency histograms (nanoseconds), named counters, errors by kind,
//! and a few named values such as phase end times.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest latency a histogram holds: one minute, in nanoseconds.
const MAX_NS: u64 = 60_000_000_000;

/// A latency histogram in nanoseconds, 3 significant digits.
#[derive(Clone, Debug)]
pub struct Histo(Histogram<u64>);

impl Default for Histo {
    fn default() -> Self {
        Histo(Histogram::new_with_bounds(1, MAX_NS, 3).expect("static histogram bounds are valid"))
    }
}

impl Histo {
    /// Records one latency; values beyond the bounds are clamped.
    pub fn record(&mut self, ns: u64) {
        self.0.saturating_record(ns.clamp(1, MAX_NS));
    }

    /// Adds every sample of `other`.
    pub fn add(&mut self, other: &Histo) {
        // Same bounds on both sides, so this cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Latency at `q` (0..=1), in nanoseconds.
    pub fn quantile(&self, q: f64) -> u64 {
        self.0.value_at_quantile(q)
    }

    /// Largest sample.
    pub fn max(&self) -> u64 {
        self.0.max()
    }

    /// Mean in nanoseconds.
    pub fn mean(&self) -> f64 {
        self.0.mean()
    }

    /// (quantile, latency ns) points of the percentile distribution, for plots.
    pub fn percentile_points(&self) -> Vec<(f64, u64)> {
        if self.len() == 0 {
            return Vec::new();
        }
        self.0
            .iter_quantiles(4)
            .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
            .collect()
    }

    /// A compact wire form: (value, count) for each non-empty bucket.
    pub fn to_wire(&self) -> Vec<(u64, u64)> {
        self.0
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    }

    /// Rebuilds a histogram from [`Histo::to_wire`].
    pub fn from_wire(buckets: &[(u64, u64)]) -> Histo {
        let mut h = Histo::default();
        for &(value, count) in buckets {
            let _ = h.0.record_n(value.clamp(1, MAX_NS), count);
        }
        h
    }
}

impl Serialize for Histo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Histo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<(u64, u64)>::deserialize(d).map(|b| Histo::from_wire(&b))
    }
}

/// Everything one worker (process or in-process task group) measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkerResult {
    /// Named latency histograms (`e2e`, `ack`, `handshake`, ...).
    pub histos: BTreeMap<String, Histo>,
    /// Named counters, summed across workers.
    pub counters: BTreeMap<String, u64>,
    /// Errors by kind, summed across workers.
    pub errors: BTreeMap<String, u64>,
    /// Named values; keys ending in `_max` merge by max, `_min` by min, others by sum.
    pub values: BTreeMap<String, f64>,
    /// CPU seconds of the worker per named phase.
    pub cpu_secs: BTreeMap<String, f64>,
    /// Runtime worker threads of this worker.
    pub threads: usize,
}

impl WorkerResult {
    /// Histogram `name`, created on first use.
    pub fn histo(&mut self, name: &str) -> &mut Histo {
        // Look up before inserting: this runs per message, and `entry`
        // would allocate the key every time.
        if !self.histos.contains_key(name) {
            self.histos.insert(name.to_owned(), Histo::default());
        }
        self.histos.get_mut(name).expect("inserted above")
    }

    /// Adds `n` to counter `name`.
    pub fn count(&mut self, name: &str, n: u64) {
        match self.counters.get_mut(name) {
            Some(v) => *v += n,
            None => {
                self.counters.insert(name.to_owned(), n);
            }
        }
    }

    /// Counts one error of `kind`.
    pub fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_owned()).or_default() += 1;
    }

    /// Counter `name`, 0 if absent.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Sets value `name`, merging with what is there by the key's rule.
    pub fn value(&mut self, name: &str, v: f64) {
        match self.values.get_mut(name) {
            Some(old) => *old = merge_value(name, *old, v),
            None => {
                self.values.insert(name.to_owned(), v);
            }
        }
    }

    /// Folds `other` into `self`.
    pub fn merge(&mut self, other: &WorkerResult) {
        for (k, h) in &other.histos {
            self.histo(k).add(h);
        }
        for (k, v) in &other.counters {
            self.count(k, *v);
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.values {
            self.value(k, *v);
        }
        for (k, v) in &other.cpu_secs {
            *self.cpu_secs.entry(k.clone()).or_default() += v;
        }
        self.threads += other.threads;
    }
}

fn merge_value(name: &str, a: f64, b: f64) -> f64 {
    if name.ends_with("_max") {
        a.max(b)
    } else if name.ends_with("_min") {
        a.min(b)
    } else {
        a + b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_survives_the_wire_and_merges() {
        let mut a = Histo::default();
        for v in [1_000, 2_000, 3_000, 1_000_000] {
            a.record(v);
        }
        let json = serde_json::to_string(&a).unwrap();
        let b: Histo = serde_json::from_str(&json).unwrap();
        assert_eq!(b.len(), 4);
        assert!(b.max() >= 999_000);
        let mut sum = a.clone();
        sum.add(&b);
        assert_eq!(sum.len(), 8);
    }

    #[test]
    fn results_merge_by_rule() {
        let mut a = WorkerResult::default();
        a.count("sent", 2);
        a.error("timeout");
        a.value("end_ns_max", 5.0);
        a.value("start_ns_min", 3.0);
        let mut b = WorkerResult::default();
        b.count("sent", 3);
        b.error("timeout");
        b.value("end_ns_max", 7.0);
        b.value("start_ns_min", 1.0);
        a.merge(&b);
        assert_eq!(a.counter("sent"), 5);
        assert_eq!(a.errors["timeout"], 2);
        assert_eq!(a.values["end_ns_max"], 7.0);
        assert_eq!(a.values["start_ns_min"], 1.0);
    }
}
