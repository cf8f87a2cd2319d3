//! Sampling in Rust over the full next-token logits, so the logits hook is exact: processors see
//! and change every logit before any truncation, and a picker may choose the token itself.
//!
//! Order: repetition penalty → [`LogitsProcessor`]s → (greedy if temperature is 0) → temperature →
//! top-k → top-p → softmax → [`TokenPicker`] or a seeded draw.

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// Generation settings. Defaults follow the OpenAI API where it has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f32,
    /// Nucleus sampling mass, in (0, 1].
    pub top_p: f32,
    /// Keep only the k most likely tokens; 0 disables.
    pub top_k: u32,
    /// Divide positive (multiply negative) logits of already-seen tokens; 1 disables.
    pub repetition_penalty: f32,
    /// Same seed, same output.
    pub seed: u64,
    pub max_tokens: u32,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            repetition_penalty: 1.0,
            seed: 0,
            max_tokens: 256,
            stop: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Greedy decoding for `max_tokens` tokens.
    pub fn greedy(max_tokens: u32) -> Self {
        Self {
            temperature: 0.0,
            max_tokens,
            ..Self::default()
        }
    }

    /// Refuse values that cannot mean anything, naming the field and the range.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        let bad = |field: &str, range: &str| {
            Err(RuntimeError::BadRequest(format!("{field} must be {range}")))
        };
        if !self.temperature.is_finite() || !(0.0..=10.0).contains(&self.temperature) {
            return bad("temperature", "between 0 and 10");
        }
        if !self.top_p.is_finite() || self.top_p <= 0.0 || self.top_p > 1.0 {
            return bad("top_p", "greater than 0 and at most 1");
        }
        if !self.repetition_penalty.is_finite()
            || !(0.01..=100.0).contains(&self.repetition_penalty)
        {
            return bad("repetition_penalty", "between 0.01 and 100");
        }
        if self.max_tokens == 0 || self.max_tokens > 1 << 20 {
            return bad("max_tokens", "between 1 and 1048576");
        }
        if self.stop.len() > 16 || self.stop.iter().any(|s| s.is_empty() || s.len() > 512) {
            return bad("stop", "at most 16 non-empty strings of at most 512 bytes");
        }
        Ok(())
    }
}

/// Sees the token history and the next-token logits and may change them before sampling.
pub trait LogitsProcessor: Send {
    fn process(&mut self, history: &[i32], logits: &mut [f32]);
}

/// May pick the next token itself (e.g. a Gumbel-max watermark), seeing the history and the final
/// probabilities after truncation; `None` lets the sampler draw.
pub trait TokenPicker: Send {
    fn pick(&mut self, history: &[i32], probabilities: &[(i32, f32)]) -> Option<i32>;
}

/// Bans tokens by setting their logits to −∞: the simplest processor, used in tests and for
/// suppressing tokens.
#[derive(Clone, Debug, Default)]
pub struct BanTokens(pub Vec<i32>);

impl LogitsProcessor for BanTokens {
    fn process(&mut self, _history: &[i32], logits: &mut [f32]) {
        for &token in &self.0 {
            if let Some(logit) = usize::try_from(token).ok().and_then(|i| logits.get_mut(i)) {
                *logit = f32::NEG_INFINITY;
            }
        }
    }
}

/// PCG32 (O'Neill): small, fast and reproducible across platforms, which is all a seeded sampler
/// needs.
#[derive(Clone, Debug)]
pub struct Pcg32 {
    state: u64,
    increment: u64,
}

impl Pcg32 {
    pub fn new(seed: u64) -> Self {
        let mut rng = Self {
            state: 0,
            increment: (0xda3e_39cb_94b9_5bdb << 1) | 1,
        };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(seed);
        rng.next_u32();
        rng
    }

    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(self.increment);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rotation = (old >> 59) as u32;
        xorshifted.rotate_right(rotation)
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32
    }
}

/// The per-request sampler.
pub struct Sampler {
    params: SamplingParams,
    rng: Pcg32,
    processors: Vec<Box<dyn LogitsProcessor>>,
    picker: Option<Box<dyn TokenPicker>>,
    candidates: Vec<(i32, f32)>,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let rng = Pcg32::new(params.seed);
        Self {
            params,
            rng,
            processors: Vec::new(),
            picker: None,
            candidates: Vec::new(),
        }
    }

    /// Add a logits processor; they run in the order added.
    pub fn with_processor(mut self, processor: Box<dyn LogitsProcessor>) -> Self {
        self.processors.push(processor);
        self
    }

    /// Let `picker` choose tokens.
    pub fn with_picker(mut self, picker: Box<dyn TokenPicker>) -> Self {
        self.picker = Some(picker);
        self
    }

    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Choose the next token from `logits` (changed in place by the processors).
    pub fn sample(&mut self, history: &[i32], logits: &mut [f32]) -> i32 {
        if self.params.repetition_penalty != 1.0 {
            let penalty = self.params.repetition_penalty;
            let mut seen: Vec<i32> = history.to_vec();
            seen.sort_unstable();
            seen.dedup();
            for token in seen {
                if let Some(logit) = usize::try_from(token).ok().and_then(|i| logits.get_mut(i)) {
                    *logit = if *logit > 0.0 {
                        *logit / penalty
                    } else {
                        *logit * penalty
                    };
                }
            }
        }
        for processor in &mut self.processors {
            processor.process(history, logits);
        }
        if self.params.temperature == 0.0 && self.picker.is_none() {
            return argmax(logits);
        }
        let temperature = if self.params.temperature == 0.0 {
            1.0
        } else {
            self.params.temperature
        };
        self.candidates.clear();
        self.candidates.extend(
            logits
                .iter()
                .enumerate()
                .filter(|(_, l)| l.is_finite())
                .map(|(i, &l)| (i as i32, l / temperature)),
        );
        if self.candidates.is_empty() {
            return argmax(logits);
        }
        let k = if self.params.top_k == 0 {
            self.candidates.len()
        } else {
            (self.params.top_k as usize).min(self.candidates.len())
        };
        if k < self.candidates.len() {
            self.candidates
                .select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
            self.candidates.truncate(k);
        }
        self.candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        let max = self.candidates.first().map_or(0.0, |c| c.1);
        let mut total = 0.0f32;
        for candidate in &mut self.candidates {
            candidate.1 = (candidate.1 - max).exp();
            total += candidate.1;
        }
        let mut kept = 0;
        let mut mass = 0.0f32;
        for candidate in &mut self.candidates {
            candidate.1 /= total;
            mass += candidate.1;
            kept += 1;
            if mass >= self.params.top_p {
                break;
            }
        }
        self.candidates.truncate(kept.max(1));
        let kept_mass: f32 = self.candidates.iter().map(|c| c.1).sum();
        for candidate in &mut self.candidates {
            candidate.1 /= kept_mass;
        }
        if self.params.temperature == 0.0 {
            // Greedy with a picker: the picker sees the full distribution and may decide.
            return self
                .picker
                .as_mut()
                .and_then(|p| p.pick(history, &self.candidates))
                .unwrap_or_else(|| argmax(logits));
        }
        if let Some(token) = self
            .picker
            .as_mut()
            .and_then(|p| p.pick(history, &self.candidates))
        {
            return token;
        }
        let draw = self.rng.next_f32();
        let mut cumulative = 0.0;
        for &(token, probability) in &self.candidates {
            cumulative += probability;
            if draw < cumulative {
                return token;
            }
        }
        self.candidates.last().map_or(0, |c| c.0)
    }
}

/// Index of the largest logit (the first on ties).
pub fn argmax(logits: &[f32]) -> i32 {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (index, &value) in logits.iter().enumerate() {
        if value > best_value {
            best = index;
            best_value = value;
        }
    }
    best as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_argmax_and_processors_can_ban_it() {
        let mut logits = vec![0.1, 3.0, 2.0, -1.0];
        assert_eq!(
            Sampler::new(SamplingParams::greedy(1)).sample(&[], &mut logits.clone()),
            1
        );
        let mut sampler =
            Sampler::new(SamplingParams::greedy(1)).with_processor(Box::new(BanTokens(vec![1])));
        assert_eq!(sampler.sample(&[], &mut logits), 2);
        assert_eq!(
            logits[1],
            f32::NEG_INFINITY,
            "the processor changed the real logits"
        );
    }

    #[test]
    fn same_seed_same_draws_and_top_k_one_is_greedy() {
        let logits: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        let params = SamplingParams {
            temperature: 0.9,
            seed: 42,
            ..SamplingParams::default()
        };
        let draw = |params: &SamplingParams| {
            let mut sampler = Sampler::new(params.clone());
            (0..20)
                .map(|_| sampler.sample(&[], &mut logits.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(&params), draw(&params));
        assert_ne!(
            draw(&params),
            draw(&SamplingParams {
                seed: 43,
                ..params.clone()
            })
        );
        let top1 = SamplingParams { top_k: 1, ..params };
        assert!(draw(&top1).iter().all(|&t| t == argmax(&logits)));
    }

    #[test]
    fn repetition_penalty_lowers_seen_tokens() {
        let mut logits = vec![2.0, 1.9, -1.0];
        let mut sampler = Sampler::new(SamplingParams {
            repetition_penalty: 2.0,
            ..SamplingParams::greedy(1)
        });
        assert_eq!(sampler.sample(&[0, 2], &mut logits), 1);
        assert_eq!(logits, vec![1.0, 1.9, -2.0]);
    }

    #[test]
    fn a_picker_chooses_the_token() {
        struct Last;
        impl TokenPicker for Last {
            fn pick(&mut self, _history: &[i32], probabilities: &[(i32, f32)]) -> Option<i32> {
                probabilities.last().map(|p| p.0)
            }
        }
        let mut logits = vec![5.0, 4.0, 3.0];
        let mut sampler = Sampler::new(SamplingParams {
            top_k: 2,
            ..SamplingParams::greedy(1)
        })
        .with_picker(Box::new(Last));
        assert_eq!(sampler.sample(&[], &mut logits), 1);
    }

    #[test]
    fn absurd_parameters_are_refused_by_name() {
        let cases = [
            SamplingParams {
                temperature: -1.0,
                ..SamplingParams::default()
            },
            SamplingParams {
                temperature: f32::NAN,
                ..SamplingParams::default()
            },
            SamplingParams {
                top_p: 0.0,
                ..SamplingParams::default()
            },
            SamplingParams {
                max_tokens: 0,
                ..SamplingParams::default()
            },
            SamplingParams {
                repetition_penalty: 0.0,
                ..SamplingParams::default()
            },
            SamplingParams {
                stop: vec![String::new()],
                ..SamplingParams::default()
            },
        ];
        for params in cases {
            assert!(
                matches!(params.validate(), Err(RuntimeError::BadRequest(_))),
                "{params:?}"
            );
        }
        assert!(SamplingParams::default().validate().is_ok());
    }
}
