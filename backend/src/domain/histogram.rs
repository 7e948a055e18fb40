//! A log-scale duration histogram: bucket 0 holds [0, 1 s), bucket i ≥ 1 holds
//! [2^((i-1)/4), 2^(i/4)) seconds, the last bucket is open-ended (from about 10.6 h). Each bucket is
//! 19% wide, and percentiles interpolate inside a bucket, so p50/p95 are within a few percent for
//! realistic distributions. Rollups store one per row, so percentiles never need the raw runs.

/// Number of buckets in every stored histogram.
pub const BUCKETS: usize = 64;

/// The bucket a duration falls into.
pub fn bucket_of(seconds: f64) -> usize {
    // NaN and anything under a second land in bucket 0.
    if seconds.is_nan() || seconds < 1.0 {
        return 0;
    }
    let i = (4.0 * seconds.log2()).floor() as usize + 1;
    i.min(BUCKETS - 1)
}

/// Lower and upper bound of a bucket, in seconds (the last has no upper bound: its lower one is used).
fn bounds(i: usize) -> (f64, f64) {
    if i == 0 {
        return (0.0, 1.0);
    }
    let lo = 2f64.powf((i as f64 - 1.0) / 4.0);
    let hi = if i == BUCKETS - 1 {
        lo
    } else {
        2f64.powf(i as f64 / 4.0)
    };
    (lo, hi)
}

/// The exact `q` quantile (0..=1) of sorted values, linear between the closest ranks (as
/// PostgreSQL's `percentile_cont`); `None` when there are none.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = q * last as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// The same quantile as [`percentile`] of values in any order (which it reorders), found by
/// selection in linear time rather than by sorting.
pub fn percentile_of(values: &mut [f64], q: f64) -> Option<f64> {
    let last = values.len().checked_sub(1)?;
    let rank = q * last as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (_, &mut at_lo, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let at_hi = if hi == lo {
        at_lo
    } else {
        above.iter().copied().min_by(f64::total_cmp)?
    };
    Some(at_lo + (at_hi - at_lo) * (rank - lo as f64))
}

/// Estimates the `q` quantile (0..=1) of the counted durations; `None` when nothing was counted.
pub fn quantile(hist: &[i64], q: f64) -> Option<f64> {
    let total: i64 = hist.iter().sum();
    if total <= 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut seen = 0i64;
    for (i, &n) in hist.iter().enumerate() {
        if n <= 0 {
            continue;
        }
        if (seen + n) as f64 >= rank {
            let (lo, hi) = bounds(i);
            let within = ((rank - seen as f64) / n as f64).clamp(0.0, 1.0);
            return Some(lo + (hi - lo) * within);
        }
        seen += n;
    }
    let last = hist.iter().rposition(|&n| n > 0).unwrap_or(0);
    Some(bounds(last).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[4.0], 0.95), Some(4.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 10.0], 0.5), Some(2.5));
        assert_eq!(percentile(&[0.0, 10.0], 0.95), Some(9.5));
    }

    #[test]
    fn a_percentile_by_selection_is_the_percentile_of_the_sorted_values() {
        assert_eq!(percentile_of(&mut [], 0.5), None);
        for q in [0.0, 0.5, 0.95, 1.0] {
            for n in [1usize, 2, 3, 10, 101] {
                // A scrambled order, with repeats.
                let mut v: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64 * 1.5).collect();
                let mut sorted = v.clone();
                sorted.sort_by(f64::total_cmp);
                assert_eq!(percentile_of(&mut v, q), percentile(&sorted, q), "q {q}, n {n}");
            }
        }
    }

    #[test]
    fn buckets_grow_by_a_quarter_power_of_two() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(0.99), 0);
        assert_eq!(bucket_of(1.0), 1);
        assert_eq!(bucket_of(1.18), 1);
        assert_eq!(bucket_of(1.19), 2);
        assert_eq!(bucket_of(2.0), 5);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(1e12), BUCKETS - 1);
    }

    #[test]
    fn every_duration_lies_within_its_bucket_bounds() {
        for s in [0.5, 1.0, 3.3, 59.0, 60.0, 421.0, 3600.0, 30000.0] {
            let (lo, hi) = bounds(bucket_of(s));
            assert!(lo <= s && s < hi, "{s} not in [{lo}, {hi})");
        }
    }

    #[test]
    fn quantiles_are_close_to_the_exact_ones() {
        let durations: Vec<f64> = (1..=1000).map(|i| i as f64).collect();
        let mut hist = vec![0i64; BUCKETS];
        for d in &durations {
            hist[bucket_of(*d)] += 1;
        }
        let p50 = quantile(&hist, 0.5).unwrap();
        let p95 = quantile(&hist, 0.95).unwrap();
        assert!((p50 - 500.0).abs() / 500.0 < 0.05, "p50 {p50}");
        assert!((p95 - 950.0).abs() / 950.0 < 0.05, "p95 {p95}");
        assert_eq!(quantile(&vec![0; BUCKETS], 0.5), None);
    }
}
