//! Honest statistics for measured rates (evaluation results, filter error rates): Wilson score intervals for rates (which behave at 0 %
//! and 100 % and on small samples, unlike the normal approximation), and agreement between a judge
//! and human labels (accuracy and Cohen's κ). Pure functions; they never fail on empty input.

use serde::Serialize;

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A proportion with its Wilson interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub successes: u64,
    pub trials: u64,
    /// `successes / trials`, 0 when there are no trials.
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// The Wilson score interval for `successes` out of `trials` at normal quantile `z`.
/// With no trials the interval is the whole of [0, 1]: nothing is known.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Rate {
    if trials == 0 {
        return Rate {
            successes,
            trials,
            rate: 0.0,
            ci_low: 0.0,
            ci_high: 1.0,
        };
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z * ((p * (1.0 - p) / n) + z2 / (4.0 * n * n)).sqrt() / denominator;
    // At 0 % and 100 % the bound on that side is exactly 0 or 1; say so rather than 1 − ε.
    let successes_all = successes >= trials;
    Rate {
        successes,
        trials,
        rate: p,
        ci_low: if successes == 0 {
            0.0
        } else {
            (centre - half).max(0.0)
        },
        ci_high: if successes_all {
            1.0
        } else {
            (centre + half).min(1.0)
        },
    }
}

/// Agreement between two raters over the same items.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Agreement {
    pub items: u64,
    pub accuracy: f64,
    /// Cohen's κ: agreement beyond chance; 1 is perfect, 0 chance level, below 0 worse than chance.
    pub kappa: f64,
}

/// Accuracy and Cohen's κ of `judge` against `human` labels (pairs of equal-length slices; extra
/// items in the longer one are ignored).
pub fn agreement<T: PartialEq>(judge: &[T], human: &[T]) -> Agreement {
    let items = judge.len().min(human.len());
    if items == 0 {
        return Agreement {
            items: 0,
            accuracy: 0.0,
            kappa: 0.0,
        };
    }
    let pairs: Vec<(&T, &T)> = judge.iter().zip(human).take(items).collect();
    let n = items as f64;
    let observed = pairs.iter().filter(|(a, b)| a == b).count() as f64 / n;
    let mut labels: Vec<&T> = Vec::new();
    for (a, b) in &pairs {
        for label in [*a, *b] {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
    }
    let expected: f64 = labels
        .iter()
        .map(|label| {
            let by_judge = pairs.iter().filter(|(a, _)| a == label).count() as f64 / n;
            let by_human = pairs.iter().filter(|(_, b)| b == label).count() as f64 / n;
            by_judge * by_human
        })
        .sum();
    let kappa = if (1.0 - expected).abs() < f64::EPSILON {
        if observed >= 1.0 { 1.0 } else { 0.0 }
    } else {
        (observed - expected) / (1.0 - expected)
    };
    Agreement {
        items: items as u64,
        accuracy: observed,
        kappa,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn wilson_matches_published_values() {
        // 8 of 10: 0.4902–0.9433 (Wilson 1927; also R's prop.test without continuity correction).
        let rate = wilson(8, 10, Z95);
        assert!(
            close(rate.ci_low, 0.4902) && close(rate.ci_high, 0.9433),
            "{rate:?}"
        );
        // 0 of 20 still has an upper bound: 0–0.1611.
        let zero = wilson(0, 20, Z95);
        assert!(
            zero.ci_low == 0.0 && close(zero.ci_high, 0.1611),
            "{zero:?}"
        );
        let all = wilson(20, 20, Z95);
        assert!(close(all.ci_low, 0.8389) && all.ci_high == 1.0, "{all:?}");
        assert_eq!(
            wilson(0, 0, Z95),
            Rate {
                successes: 0,
                trials: 0,
                rate: 0.0,
                ci_low: 0.0,
                ci_high: 1.0
            }
        );
        assert!(
            wilson(50, 100, Z95).ci_high - wilson(50, 100, Z95).ci_low
                > wilson(500, 1000, Z95).ci_high - wilson(500, 1000, Z95).ci_low
        );
    }

    #[test]
    fn kappa_matches_a_worked_example() {
        // Cohen's classic 2×2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → p_o 0.7, κ 0.4.
        let mut judge = Vec::new();
        let mut human = Vec::new();
        for (a, b, count) in [
            ("y", "y", 20),
            ("y", "n", 5),
            ("n", "y", 10),
            ("n", "n", 15),
        ] {
            for _ in 0..count {
                judge.push(a);
                human.push(b);
            }
        }
        let result = agreement(&judge, &human);
        assert!(
            close(result.accuracy, 0.7) && close(result.kappa, 0.4),
            "{result:?}"
        );
        assert_eq!(agreement(&["a", "a"], &["a", "a"]).kappa, 1.0);
        assert_eq!(agreement::<&str>(&[], &[]).items, 0);
    }
}
