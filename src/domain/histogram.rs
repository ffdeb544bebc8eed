//! Durations kept as histograms (the management report's lead times and approval
//! turnaround): exact counts and means, and a 90th percentile read from bins 10 % wide.
//!
//! Durations are shown in one unit per table and chart ([`Unit::for_hours`]): minutes, hours
//! or days, chosen from the figures so that the bars' labels read as numbers, not "0.0".
//!
//! Bin `b` holds durations of `[1.1^b, 1.1^(b+1))` seconds (bin 0 also holds anything under
//! a second); the database assigns bins with `report_bin()` (migration `report_durations`).

/// How much wider each bin is than the one before.
pub const BIN_RATIO: f64 = 1.1;

/// One bin: how many durations fell in it and their sum in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    pub bin: i32,
    pub n: i64,
    pub seconds: f64,
}

/// The durations of one measure (a phase's visits, say), as bins.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    bins: Vec<Bin>,
}

impl Histogram {
    /// Adds bins (several rows of the same bin add up; empty and negative ones are ignored).
    pub fn add(&mut self, b: Bin) {
        match self.bins.iter_mut().find(|x| x.bin == b.bin) {
            Some(x) => {
                x.n += b.n;
                x.seconds += b.seconds;
            }
            None => self.bins.push(b),
        }
    }

    /// Adds every bin of another histogram.
    pub fn merge(&mut self, other: &Histogram) {
        for b in &other.bins {
            self.add(*b);
        }
    }

    fn counted(&self) -> impl Iterator<Item = &Bin> {
        self.bins.iter().filter(|b| b.n > 0)
    }

    /// How many durations.
    pub fn n(&self) -> i64 {
        self.counted().map(|b| b.n).sum()
    }

    /// The mean in hours (exact: the bins keep their sums), `None` when empty.
    pub fn mean_hours(&self) -> Option<f64> {
        let n = self.n();
        (n > 0).then(|| self.counted().map(|b| b.seconds).sum::<f64>() / n as f64 / 3600.0)
    }

    /// The 90th percentile in hours, as `percentile_cont(0.9)` would give it (interpolating
    /// between the two closest ranks). A duration alone in its bin is known exactly; one of
    /// several is placed within its bin as if they were spread evenly (on a log scale), so
    /// the estimate is within the bin's 10 %.
    pub fn p90_hours(&self) -> Option<f64> {
        self.percentile(0.9).map(|s| s / 3600.0)
    }

    /// The `q` quantile in seconds.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let n = self.n();
        if n == 0 {
            return None;
        }
        let mut bins: Vec<&Bin> = self.counted().collect();
        bins.sort_by_key(|b| b.bin);
        let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
        let (lo, hi) = (pos.floor() as i64, pos.ceil() as i64);
        let a = value_at(&bins, lo);
        let b = value_at(&bins, hi);
        Some(a + (b - a) * (pos - lo as f64))
    }
}

/// The `rank`-th smallest duration (0-based), estimated from its bin.
fn value_at(bins: &[&Bin], rank: i64) -> f64 {
    let mut before = 0;
    for b in bins {
        if rank < before + b.n {
            if b.n == 1 {
                return b.seconds;
            }
            let low = if b.bin <= 0 {
                0.0
            } else {
                BIN_RATIO.powi(b.bin)
            };
            let high = BIN_RATIO.powi(b.bin + 1);
            let at = ((rank - before) as f64 + 0.5) / b.n as f64;
            // Evenly on a log scale within the bin (linearly in bin 0, which starts at 0).
            return if low > 0.0 {
                low * (high / low).powf(at)
            } else {
                high * at
            };
        }
        before += b.n;
    }
    bins.last().map(|b| b.seconds / b.n as f64).unwrap_or(0.0)
}

/// The unit a table of durations (and its chart) is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Minutes,
    Hours,
    Days,
}

impl Unit {
    /// Hours in one of this unit.
    fn hours(self) -> f64 {
        match self {
            Unit::Minutes => 1.0 / 60.0,
            Unit::Hours => 1.0,
            Unit::Days => 24.0,
        }
    }

    /// The unit for a table whose figures (in hours) are these: days once the largest is three
    /// days or more, hours once it is two hours or more, else minutes; then one unit smaller
    /// when the smallest figure above zero would read "0.0" in it (a 30-minute phase beside a
    /// 4-day one is read in hours, not as "0.0 days"). No figures: hours.
    pub fn for_hours(figures: impl IntoIterator<Item = f64>) -> Unit {
        let positive: Vec<f64> = figures
            .into_iter()
            .filter(|h| h.is_finite() && *h > 0.0)
            .collect();
        let Some(largest) = positive.iter().copied().reduce(f64::max) else {
            return Unit::Hours;
        };
        let smallest = positive.iter().copied().fold(largest, f64::min);
        let mut unit = if largest >= 72.0 {
            Unit::Days
        } else if largest >= 2.0 {
            Unit::Hours
        } else {
            Unit::Minutes
        };
        // The smallest would read "0.0": one unit down (to minutes only while the largest is
        // under a day, or it would read in thousands).
        if unit == Unit::Days && Unit::Days.of_hours(smallest) < 0.05 {
            unit = Unit::Hours;
        }
        if unit == Unit::Hours && smallest < 0.05 && largest < 24.0 {
            unit = Unit::Minutes;
        }
        unit
    }

    /// `minutes`, `hours` or `days`.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
        }
    }

    /// `Mean (days)`: the column of means.
    pub fn mean_column(self) -> &'static str {
        match self {
            Unit::Minutes => "Mean (minutes)",
            Unit::Hours => "Mean (hours)",
            Unit::Days => "Mean (days)",
        }
    }

    /// `90th percentile (days)`.
    pub fn p90_column(self) -> &'static str {
        match self {
            Unit::Minutes => "90th percentile (minutes)",
            Unit::Hours => "90th percentile (hours)",
            Unit::Days => "90th percentile (days)",
        }
    }

    /// What the chart's bars measure: `Mean days`.
    pub fn mean_measure(self) -> &'static str {
        match self {
            Unit::Minutes => "Mean minutes",
            Unit::Hours => "Mean hours",
            Unit::Days => "Mean days",
        }
    }

    /// A figure in hours as this unit's number.
    pub fn of_hours(self, hours: f64) -> f64 {
        hours / self.hours()
    }

    /// A figure in hours written in this unit with one decimal (`2.5`), `< 0.1` for one above
    /// zero that would round to nothing, `—` for none.
    pub fn format(self, hours: Option<f64>) -> String {
        match hours {
            None => "—".into(),
            Some(h) => {
                let v = self.of_hours(h);
                if v > 0.0 && v < 0.05 {
                    "< 0.1".into()
                } else {
                    format!("{v:.1}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bin of a duration in seconds, as `report_bin()` computes it in the database.
    fn bin_of(seconds: f64) -> i32 {
        (seconds.max(1.0).ln() / BIN_RATIO.ln()).floor() as i32
    }

    fn of(values: &[f64]) -> Histogram {
        let mut h = Histogram::default();
        for v in values {
            h.add(Bin {
                bin: bin_of(*v),
                n: 1,
                seconds: *v,
            });
        }
        h
    }

    /// `percentile_cont`, on the values themselves.
    fn exact(values: &[f64], q: f64) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let pos = q * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    }

    #[test]
    fn an_empty_histogram_has_no_mean_or_percentile() {
        let h = Histogram::default();
        assert_eq!(h.n(), 0);
        assert_eq!(h.mean_hours(), None);
        assert_eq!(h.p90_hours(), None);
    }

    #[test]
    fn durations_alone_in_their_bins_give_the_exact_percentile() {
        let values = [3600.0, 7200.0, 36_000.0, 90_000.0, 400_000.0];
        let h = of(&values);
        assert_eq!(h.n(), 5);
        assert!((h.percentile(0.9).unwrap() - exact(&values, 0.9)).abs() < 1e-6);
        assert!((h.mean_hours().unwrap() - values.iter().sum::<f64>() / 5.0 / 3600.0).abs() < 1e-9);
    }

    #[test]
    fn many_durations_give_a_percentile_within_a_bin_of_the_exact_one() {
        // A spread like real lead times: minutes to weeks, skewed.
        let values: Vec<f64> = (0..10_000)
            .map(|i| 60.0 * (1.0 + (i as f64 * 0.7919).sin().abs() * 10_000.0 * (i % 7 + 1) as f64))
            .collect();
        let h = of(&values);
        for q in [0.5, 0.9, 0.99] {
            let (est, ex) = (h.percentile(q).unwrap(), exact(&values, q));
            assert!(
                (est - ex).abs() <= ex * (BIN_RATIO - 1.0),
                "q {q}: {est} against {ex}"
            );
        }
        let mean: f64 = values.iter().sum::<f64>() / values.len() as f64 / 3600.0;
        assert!((h.mean_hours().unwrap() - mean).abs() < 1e-6);
    }

    #[test]
    fn removals_cancel_additions() {
        let mut h = of(&[100.0, 200.0, 5000.0]);
        h.add(Bin {
            bin: bin_of(200.0),
            n: -1,
            seconds: -200.0,
        });
        assert_eq!(h.n(), 2);
        assert!((h.percentile(1.0).unwrap() - 5000.0).abs() < 1e-9);
        assert!((h.percentile(0.0).unwrap() - 100.0).abs() < 1e-9);
    }

    #[test]
    fn bins_grow_by_ten_percent() {
        assert_eq!(bin_of(0.2), 0);
        assert_eq!(bin_of(1.0), 0);
        assert_eq!(bin_of(1.1 * 1.0001), 1);
        let b = bin_of(3600.0);
        assert!(BIN_RATIO.powi(b) <= 3600.0 && 3600.0 < BIN_RATIO.powi(b + 1));
    }

    #[test]
    fn the_unit_follows_the_largest_figure() {
        assert_eq!(Unit::for_hours([]), Unit::Hours);
        assert_eq!(Unit::for_hours([0.0]), Unit::Hours);
        // Minutes: a few minutes each.
        assert_eq!(Unit::for_hours([0.05, 0.2, 0.5]), Unit::Minutes);
        assert_eq!(Unit::for_hours([1.9]), Unit::Minutes);
        // Hours: two hours up to three days.
        assert_eq!(Unit::for_hours([2.0, 0.5]), Unit::Hours);
        assert_eq!(Unit::for_hours([71.9, 3.0]), Unit::Hours);
        // Days: three days or more.
        assert_eq!(Unit::for_hours([72.0, 30.0]), Unit::Days);
        assert_eq!(Unit::for_hours([24.0 * 40.0, 24.0]), Unit::Days);
    }

    #[test]
    fn a_small_figure_beside_a_large_one_steps_the_unit_down_instead_of_reading_zero() {
        // 4 days beside 30 minutes: in days the 30 minutes would read "0.0".
        assert_eq!(Unit::for_hours([96.0, 0.5]), Unit::Hours);
        // 10 hours beside a minute: in hours the minute would read "0.0".
        assert_eq!(Unit::for_hours([10.0, 1.0 / 60.0]), Unit::Minutes);
        // But a second beside weeks stays in hours (its label says "< 0.1").
        assert_eq!(Unit::for_hours([24.0 * 30.0, 1.0 / 3600.0]), Unit::Hours);
    }

    #[test]
    fn figures_read_in_their_unit_and_never_as_a_false_zero() {
        assert_eq!(Unit::Minutes.format(Some(0.25)), "15.0");
        assert_eq!(Unit::Hours.format(Some(1.25)), "1.2");
        assert_eq!(Unit::Days.format(Some(36.0)), "1.5");
        assert_eq!(Unit::Minutes.format(Some(1.0 / 3600.0)), "< 0.1");
        assert_eq!(Unit::Hours.format(Some(0.0)), "0.0");
        assert_eq!(Unit::Days.format(None), "—");
        assert_eq!(Unit::Days.name(), "days");
        assert_eq!(Unit::Minutes.mean_column(), "Mean (minutes)");
        assert_eq!(Unit::Hours.p90_column(), "90th percentile (hours)");
        // Every figure a unit is chosen for reads as more than zero.
        for figures in [
            vec![96.0, 0.5],
            vec![10.0, 0.02],
            vec![1.5, 0.01, 0.9],
            vec![300.0, 2.0],
        ] {
            let u = Unit::for_hours(figures.iter().copied());
            for f in &figures {
                assert_ne!(u.format(Some(*f)), "0.0", "{f} hours in {u:?}");
            }
        }
    }
}
