//! A small linear classifier over hashed character n-grams, trained by Warden itself.
//!
//! Generic binary classification (label `true` or `false`): the same model type serves a
//! harmful-prompt filter trained on the review queue and the refusal detector of the evaluation.
//! It is logistic regression, so a score is a probability and a model is a bias plus one weight
//! per hash bucket.
//!
//! ## Features
//!
//! Each character is folded with [`fold_char`](crate::fold::fold_char), the lexicon's own fold
//! (width, case, Cyrillic and Greek look-alikes, traditional to simplified, invisible characters
//! dropped), so the evasions the lexicon resists do not move a text in feature space either.
//! Unlike [`fold`](crate::fold::fold), separators are not dropped but kept as one space each
//! (runs collapse), and the text is padded with a space on both sides: an n-gram that spans a
//! space marks a word's start or end (` kill` is not `skill`), which bag-of-n-gram models lean on
//! in Latin-script text, while Chinese, written without spaces, loses nothing.
//!
//! Every n-gram of `min_n..=max_n` characters (default 1 to 4, for all scripts: a Chinese word
//! is one to four characters, and four Latin characters with the padding cover short words whole)
//! is hashed with 64-bit FNV-1a into `2^bits` buckets (default 2^18), except the lone space.
//! A bucket's value is `1 + ln(count)` (sublinear: a word repeated ten times is not ten times the
//! evidence), and the vector is L2-normalised, so long and short texts score on the same scale.
//!
//! ## Training
//!
//! Logistic loss with L2 regularisation, minimised by AdaGrad (a per-bucket step size, so rare
//! n-grams still learn) for a fixed number of epochs over examples shuffled by a seeded xorshift:
//! the same examples, options and seed give the same model, bit for bit. Classes can be weighted
//! to count equally (`balance`), and a calibration slice can be held out to choose the threshold
//! that maximises F1 on it (the model is then trained on the rest). Weights are rounded to `f32`
//! and tiny ones dropped when training ends, so the model in memory is exactly the one a file
//! stores.
//!
//! ## Persistence
//!
//! [`Classifier::to_json`] writes a format tag, the feature settings, the bias, the threshold and
//! the non-zero weights as `[bucket, weight]` pairs, with a `version` (`sha256:…` of all of
//! these) that decision records can name; [`Classifier::from_json`] refuses a file whose
//! contents do not match its version. Training data is read from JSONL by [`parse_jsonl`].
//!
//! ## What to expect
//!
//! Scoring 1 KB costs tens of microseconds on one core (`examples/classifier_quality.rs`
//! measures it). A text that shares no n-gram with the training data scores the bias alone, so
//! the model knows only the languages and styles it was trained on: trained on Chinese data
//! alone it flags nearly all English text, and the reverse flags almost nothing. Train on the
//! traffic it will judge.
//!
//! Nothing here does IO; scoring cannot fail.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fold::{Fold, fold_char};

/// The format tag of a model file; bumped when its meaning changes.
pub const FORMAT: &str = "warden-classifier/1";

/// A model, a training set or options that cannot be used, with what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifierError {
    /// A JSONL line of training data is malformed (`line` counts from 1).
    #[error("line {line}: {message}")]
    Jsonl { line: usize, message: String },
    /// The examples cannot train a model.
    #[error("training data: {0}")]
    Data(String),
    /// An option is out of range.
    #[error("training options: {0}")]
    Options(String),
    /// A model file cannot be loaded.
    #[error("model: {0}")]
    Model(String),
}

/// How text becomes a feature vector. Stored in the model: scoring uses the training settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// `2^bits` hash buckets (8 to 24).
    pub bits: u32,
    /// Shortest n-gram, in characters (at least 1).
    pub min_n: usize,
    /// Longest n-gram, in characters (at most 8).
    pub max_n: usize,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            bits: 18,
            min_n: 1,
            max_n: 4,
        }
    }
}

impl Features {
    fn check(&self) -> Result<(), String> {
        if !(8..=24).contains(&self.bits) {
            return Err(format!("bits must be 8 to 24, not {}", self.bits));
        }
        if self.min_n == 0 || self.min_n > self.max_n || self.max_n > 8 {
            return Err(format!(
                "n-gram lengths must satisfy 1 <= min_n <= max_n <= 8, not {}..={}",
                self.min_n, self.max_n
            ));
        }
        Ok(())
    }

    fn buckets(&self) -> usize {
        1 << self.bits
    }

    /// The sparse, L2-normalised feature vector of `text`, sorted by bucket.
    pub fn vector(&self, text: &str) -> Vec<(u32, f32)> {
        let mut hashes = self.hashes(text);
        hashes.sort_unstable();
        let mut vector: Vec<(u32, f32)> = Vec::new();
        let mut run = 0usize;
        while run < hashes.len() {
            let bucket = hashes[run];
            let count = hashes[run..].iter().take_while(|&&h| h == bucket).count();
            vector.push((bucket, 1.0 + (count as f32).ln()));
            run += count;
        }
        let norm = vector.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, v) in &mut vector {
                *v /= norm;
            }
        }
        vector
    }

    /// The bucket of every n-gram of `text`, repeated as often as the n-gram occurs.
    fn hashes(&self, text: &str) -> Vec<u32> {
        let chars = normalise(text);
        let mask = (1u64 << self.bits) - 1;
        let mut hashes = Vec::with_capacity(chars.len() * (self.max_n + 1 - self.min_n));
        for start in 0..chars.len() {
            // FNV-1a extends one character at a time, so each longer n-gram costs one step.
            let mut hash = FNV_OFFSET;
            for (length, &c) in chars[start..].iter().take(self.max_n).enumerate() {
                for byte in u32::from(c).to_le_bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
                }
                if length + 1 >= self.min_n && !(length == 0 && c == ' ') {
                    // The high bits of FNV-1a mix better than the low ones: fold them in.
                    hashes.push(((hash ^ (hash >> 32)) & mask) as u32);
                }
            }
        }
        hashes
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Folded characters with separators as single spaces, padded with a space on each side.
fn normalise(text: &str) -> Vec<char> {
    let mut chars = Vec::with_capacity(text.len() + 2);
    chars.push(' ');
    for c in text.chars() {
        match fold_char(c) {
            Fold::Invisible => {}
            Fold::Separator => {
                if chars.last() != Some(&' ') {
                    chars.push(' ');
                }
            }
            Fold::Char(f) => chars.push(f),
        }
    }
    if chars.last() != Some(&' ') {
        chars.push(' ');
    }
    chars
}

/// How to train; [`Default`] is a reasonable start for a few thousand short texts.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    pub features: Features,
    /// Passes over the examples.
    pub epochs: usize,
    /// AdaGrad's base step size.
    pub learning_rate: f64,
    /// L2 penalty per update, applied to the weights an example touches.
    pub l2: f64,
    /// Seed of the shuffle (and of the calibration split).
    pub seed: u64,
    /// Weight examples so both labels count equally, however many of each there are.
    pub balance: bool,
    /// Fraction of the examples (0 to 0.5) held out to choose the threshold that maximises F1;
    /// `None` trains on everything and keeps the threshold at 0.5.
    pub calibration: Option<f64>,
    /// Weights smaller than this in magnitude are dropped when training ends. AdaGrad gives
    /// every n-gram it saw a sizeable weight, so this drops few; it keeps stray near-zero
    /// weights out of the file.
    pub min_weight: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            features: Features::default(),
            epochs: 10,
            learning_rate: 0.2,
            l2: 1e-6,
            seed: 0x5eed,
            balance: true,
            calibration: None,
            min_weight: 1e-3,
        }
    }
}

impl TrainOptions {
    fn check(&self) -> Result<(), ClassifierError> {
        let bad = |m: String| Err(ClassifierError::Options(m));
        self.features.check().or_else(bad)?;
        if self.epochs == 0 || self.epochs > 1000 {
            return bad(format!("epochs must be 1 to 1000, not {}", self.epochs));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(format!(
                "learning_rate must be a positive number, not {}",
                self.learning_rate
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return bad(format!("l2 must be zero or positive, not {}", self.l2));
        }
        if let Some(fraction) = self.calibration
            && !(fraction > 0.0 && fraction <= 0.5)
        {
            return bad(format!(
                "calibration must be a fraction above 0 and at most 0.5, not {fraction}"
            ));
        }
        if !(self.min_weight.is_finite() && self.min_weight >= 0.0) {
            return bad(format!(
                "min_weight must be zero or positive, not {}",
                self.min_weight
            ));
        }
        Ok(())
    }
}

/// A trained model: logistic regression over [`Features`].
#[derive(Clone, Debug, PartialEq)]
pub struct Classifier {
    features: Features,
    bias: f32,
    threshold: f32,
    /// One weight per bucket (dense: scoring is a lookup per n-gram).
    weights: Vec<f32>,
    version: String,
}

impl Classifier {
    /// Train on `(text, label)` examples. Both labels must occur (and, with calibration, occur
    /// in both the training and the calibration slice).
    pub fn train(
        examples: &[(String, bool)],
        options: &TrainOptions,
    ) -> Result<Classifier, ClassifierError> {
        options.check()?;
        count_labels(examples, "the examples")?;
        let mut rng = XorShift::new(options.seed);
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let (train, calibrate) = match options.calibration {
            None => (order, Vec::new()),
            Some(fraction) => {
                rng.shuffle(&mut order);
                // Rounded, and at least one example, so a small fraction still calibrates.
                let held = ((examples.len() as f64 * fraction).round() as usize).max(1);
                let calibrate = order.split_off(examples.len() - held);
                (order, calibrate)
            }
        };
        let pick = |indices: &[usize]| -> Vec<(String, bool)> {
            indices.iter().map(|&i| examples[i].clone()).collect()
        };
        let train_set = pick(&train);
        count_labels(&train_set, "the training slice")?;
        let mut model = fit(&train_set, options, &mut rng);
        if !calibrate.is_empty() {
            let held = pick(&calibrate);
            count_labels(&held, "the calibration slice")?;
            let scored: Vec<(f64, bool)> = held
                .iter()
                .map(|(text, label)| (model.score(text), *label))
                .collect();
            model.threshold = best_f1_threshold(&scored) as f32;
            model.version = model.digest();
        }
        Ok(model)
    }

    /// The probability that `text` is labelled `true`.
    pub fn score(&self, text: &str) -> f64 {
        // The very vector training saw, so a model scores its own training text as it learnt it.
        let z: f64 = self
            .features
            .vector(text)
            .iter()
            .map(|&(bucket, value)| f64::from(self.weight(bucket)) * f64::from(value))
            .sum();
        sigmoid(f64::from(self.bias) + z)
    }

    /// Whether `text` is labelled `true` at `threshold` (a score at or above it).
    pub fn predict(&self, text: &str, threshold: f64) -> bool {
        self.score(text) >= threshold
    }

    /// Whether `text` is labelled `true` at the model's own [`threshold`](Self::threshold).
    pub fn classify(&self, text: &str) -> bool {
        self.predict(text, self.threshold())
    }

    /// The calibrated threshold, or 0.5 if training held out no calibration slice.
    pub fn threshold(&self) -> f64 {
        f64::from(self.threshold)
    }

    /// The feature settings the model was trained with.
    pub fn features(&self) -> Features {
        self.features
    }

    /// `sha256:` and the hex digest of the model's contents: names the model in decision records.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Number of non-zero weights.
    pub fn weights_len(&self) -> usize {
        self.weights.iter().filter(|w| **w != 0.0).count()
    }

    fn weight(&self, bucket: u32) -> f32 {
        self.weights.get(bucket as usize).copied().unwrap_or(0.0)
    }

    fn sparse(&self) -> Vec<(u32, f32)> {
        self.weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0.0)
            .map(|(i, w)| (i as u32, *w))
            .collect()
    }

    fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(FORMAT.as_bytes());
        for n in [
            self.features.bits,
            self.features.min_n as u32,
            self.features.max_n as u32,
            self.bias.to_bits(),
            self.threshold.to_bits(),
        ] {
            hasher.update(n.to_le_bytes());
        }
        for (bucket, weight) in self.sparse() {
            hasher.update(bucket.to_le_bytes());
            hasher.update(weight.to_bits().to_le_bytes());
        }
        let digest = hasher.finalize();
        format!("sha256:{}", warden_core::hex::encode(&digest))
    }

    /// The model file: compact JSON on one line.
    pub fn to_json(&self) -> String {
        let file = ModelFile {
            format: FORMAT.to_owned(),
            version: self.version.clone(),
            features: self.features,
            bias: self.bias,
            threshold: self.threshold,
            weights: self.sparse(),
        };
        // Serialising plain numbers and strings cannot fail; an empty string would fail to load.
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// Load a model file written by [`to_json`](Self::to_json).
    pub fn from_json(text: &str) -> Result<Classifier, ClassifierError> {
        let bad = |m: String| ClassifierError::Model(m);
        let file: ModelFile = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a Warden classifier file: {e}")))?;
        if file.format != FORMAT {
            return Err(bad(format!(
                "format {:?} is not {FORMAT:?}; retrain the model with this Warden",
                file.format
            )));
        }
        file.features.check().map_err(bad)?;
        let mut weights = vec![0f32; file.features.buckets()];
        for (bucket, weight) in &file.weights {
            let slot = weights.get_mut(*bucket as usize).ok_or_else(|| {
                bad(format!(
                    "bucket {bucket} is outside the model's 2^{} buckets",
                    file.features.bits
                ))
            })?;
            if !weight.is_finite() {
                return Err(bad(format!("bucket {bucket} has no finite weight")));
            }
            *slot = *weight;
        }
        if !(file.bias.is_finite() && file.threshold.is_finite()) {
            return Err(bad("bias and threshold must be finite numbers".to_owned()));
        }
        let model = Classifier {
            features: file.features,
            bias: file.bias,
            threshold: file.threshold,
            weights,
            version: String::new(),
        };
        let version = model.digest();
        if version != file.version {
            return Err(bad(format!(
                "the contents do not match the version {} (they hash to {version}): the file \
                 was edited or damaged; restore it or retrain",
                file.version
            )));
        }
        Ok(Classifier { version, ..model })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    format: String,
    version: String,
    features: Features,
    bias: f32,
    threshold: f32,
    weights: Vec<(u32, f32)>,
}

fn count_labels(examples: &[(String, bool)], what: &str) -> Result<(), ClassifierError> {
    let positive = examples.iter().filter(|(_, label)| *label).count();
    if positive == 0 || positive == examples.len() {
        return Err(ClassifierError::Data(format!(
            "{what} have {positive} true and {} false labels; training needs both",
            examples.len() - positive
        )));
    }
    Ok(())
}

/// Logistic regression by AdaGrad over `examples` (both labels present).
fn fit(examples: &[(String, bool)], options: &TrainOptions, rng: &mut XorShift) -> Classifier {
    let features = options.features;
    let vectors: Vec<Vec<(u32, f32)>> = examples.iter().map(|(t, _)| features.vector(t)).collect();
    let positive = examples.iter().filter(|(_, label)| *label).count() as f64;
    let negative = examples.len() as f64 - positive;
    // Class weights that make both labels sum to half the examples each.
    let (weight_true, weight_false) = if options.balance {
        let n = examples.len() as f64;
        (n / (2.0 * positive), n / (2.0 * negative))
    } else {
        (1.0, 1.0)
    };
    let mut weights = vec![0f64; features.buckets()];
    let mut squares = vec![0f64; features.buckets()];
    let (mut bias, mut bias_square) = (0f64, 0f64);
    let rate = options.learning_rate;
    // AdaGrad's accumulators start above zero so the first step is not a full unit jump.
    const EPSILON: f64 = 1e-8;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    for _ in 0..options.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let (Some(vector), Some((_, label))) = (vectors.get(i), examples.get(i)) else {
                continue;
            };
            let z = bias
                + vector
                    .iter()
                    .map(|&(b, v)| weights.get(b as usize).copied().unwrap_or(0.0) * f64::from(v))
                    .sum::<f64>();
            let (target, class_weight) = if *label {
                (1.0, weight_true)
            } else {
                (0.0, weight_false)
            };
            let error = (sigmoid(z) - target) * class_weight;
            for &(b, v) in vector {
                let (Some(w), Some(g2)) =
                    (weights.get_mut(b as usize), squares.get_mut(b as usize))
                else {
                    continue;
                };
                let gradient = error * f64::from(v) + options.l2 * *w;
                *g2 += gradient * gradient;
                *w -= rate * gradient / (g2.sqrt() + EPSILON);
            }
            bias_square += error * error;
            bias -= rate * error / (bias_square.sqrt() + EPSILON);
        }
    }
    let weights: Vec<f32> = weights
        .iter()
        .map(|&w| {
            let w = w as f32;
            if w.abs() < options.min_weight { 0.0 } else { w }
        })
        .collect();
    let mut model = Classifier {
        features,
        bias: bias as f32,
        threshold: 0.5,
        weights,
        version: String::new(),
    };
    model.version = model.digest();
    model
}

/// The threshold with the best F1 on `scored` (score, label): the midpoint below the lowest
/// score of the best cut, so ties in score fall on the same side.
fn best_f1_threshold(scored: &[(f64, bool)]) -> f64 {
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = sorted.iter().filter(|(_, label)| *label).count();
    let (mut best, mut best_f1) = (0.5, -1.0);
    let mut true_positives = 0usize;
    for (k, &(score, label)) in sorted.iter().enumerate() {
        true_positives += usize::from(label);
        // Cut after a run of equal scores only.
        let next = sorted.get(k + 1).map(|s| s.0);
        if next == Some(score) {
            continue;
        }
        let predicted = k + 1;
        let f1 = 2.0 * true_positives as f64 / (predicted + positives) as f64;
        if f1 > best_f1 {
            best_f1 = f1;
            best = next.map_or(score / 2.0, |n| (score + n) / 2.0);
        }
    }
    best
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// xorshift64*: a few lines of deterministic shuffling, no `rand` crate needed.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Zero is xorshift's fixed point; any other start works.
        XorShift(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Read training examples, one JSON object a line: `{"text": "…", "label": true}`. The label is
/// `true`/`false` or `1`/`0`; other fields (an id, a source) are ignored; blank lines are skipped.
pub fn parse_jsonl(text: &str) -> Result<Vec<(String, bool)>, ClassifierError> {
    let mut examples = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let error = |message: String| ClassifierError::Jsonl {
            line: line_number,
            message,
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|e| error(format!("not JSON: {e}")))?;
        let serde_json::Value::Object(record) = value else {
            return Err(error(
                "expected an object like {\"text\": \"…\", \"label\": true}".to_owned(),
            ));
        };
        let text = match record.get("text") {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => return Err(error(format!("`text` must be a string, found {other}"))),
            None => return Err(error("no `text` field".to_owned())),
        };
        let label = match record.get("label") {
            Some(serde_json::Value::Bool(label)) => *label,
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(1) => true,
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(0) => false,
            Some(other) => {
                return Err(error(format!(
                    "`label` must be true, false, 1 or 0, found {other}"
                )));
            }
            None => return Err(error("no `label` field".to_owned())),
        };
        examples.push((text, label));
    }
    Ok(examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_become_one_space_and_text_is_padded() {
        let chars: String = normalise("Ｋill,  THE 賭博\u{200B}!").into_iter().collect();
        assert_eq!(chars, " kill the 赌博 ");
    }

    #[test]
    fn ngrams_cover_every_length_but_not_the_lone_space() {
        let features = Features {
            bits: 18,
            min_n: 1,
            max_n: 2,
        };
        // " ab " : a, b, " a", "ab", "b " (the spaces alone are skipped).
        assert_eq!(features.hashes("ab").len(), 5);
        let vector = features.vector("ab");
        let norm: f32 = vector.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-6);
        assert!(features.vector("").is_empty());
    }

    #[test]
    fn word_boundaries_separate_a_word_from_its_inside() {
        let features = Features::default();
        let kill: Vec<u32> = features.vector("kill").iter().map(|v| v.0).collect();
        let skill: Vec<u32> = features.vector("skill").iter().map(|v| v.0).collect();
        assert!(kill.iter().any(|b| !skill.contains(b)));
    }

    #[test]
    fn the_f1_threshold_separates_a_separable_slice() {
        let scored = [(0.9, true), (0.8, true), (0.3, false), (0.1, false)];
        let threshold = best_f1_threshold(&scored);
        assert!(threshold > 0.3 && threshold < 0.8, "{threshold}");
    }

    #[test]
    fn options_out_of_range_are_named() {
        let examples = vec![("a".to_owned(), true), ("b".to_owned(), false)];
        for (options, needle) in [
            (
                TrainOptions {
                    epochs: 0,
                    ..TrainOptions::default()
                },
                "epochs",
            ),
            (
                TrainOptions {
                    features: Features {
                        bits: 30,
                        ..Features::default()
                    },
                    ..TrainOptions::default()
                },
                "bits",
            ),
            (
                TrainOptions {
                    calibration: Some(0.9),
                    ..TrainOptions::default()
                },
                "calibration",
            ),
        ] {
            let error = Classifier::train(&examples, &options)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(needle), "{error}");
        }
    }
}
