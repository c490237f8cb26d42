//! Text generation with a KV cache: greedy or temperature / top-p sampling from a seeded RNG,
//! stopping on EOS, stop strings or a length limit, with an optional constraint that restricts
//! the next token (a [`TokenTrie`] of allowed continuations, e.g. the label set).

use super::llama::Model;
use super::tokenizer::Tokenizer;
use super::ModelError;
use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Most new tokens.
    pub max_tokens: usize,
    /// 0 = greedy; otherwise softmax temperature.
    pub temperature: f64,
    /// Nucleus sampling mass (1.0 = off).
    pub top_p: f64,
    /// Seed of the sampling RNG.
    pub seed: u64,
    /// Stop when the text contains any of these (the stop string is cut off).
    pub stop: Vec<String>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_tokens: 128,
            temperature: 0.0,
            top_p: 1.0,
            seed: 42,
            stop: Vec::new(),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// An end-of-sequence token.
    Eos,
    /// A stop string.
    StopString,
    /// `max_tokens` reached.
    Length,
    /// The constraint completed (a full allowed sequence was produced).
    Constraint,
}

/// The result of a generation.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    /// New token ids (EOS excluded).
    pub ids: Vec<u32>,
    /// Their text (stop string excluded).
    pub text: String,
    /// Why it ended.
    pub stop: StopReason,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
}

/// A prefix tree of allowed token sequences.
#[derive(Debug, Clone, Default)]
pub struct TokenTrie {
    children: BTreeMap<u32, TokenTrie>,
    terminal: bool,
}

impl TokenTrie {
    /// A trie of the given sequences.
    pub fn new<'a>(sequences: impl IntoIterator<Item = &'a [u32]>) -> TokenTrie {
        let mut root = TokenTrie::default();
        for seq in sequences {
            let mut node = &mut root;
            for id in seq {
                node = node.children.entry(*id).or_default();
            }
            node.terminal = true;
        }
        root
    }

    /// The node reached by `prefix`, if `prefix` is a path of the trie.
    fn walk(&self, prefix: &[u32]) -> Option<&TokenTrie> {
        prefix
            .iter()
            .try_fold(self, |node, id| node.children.get(id))
    }

    /// Tokens allowed after `prefix` (empty when `prefix` is not in the trie).
    pub fn allowed(&self, prefix: &[u32]) -> Vec<u32> {
        self.walk(prefix)
            .map(|n| n.children.keys().copied().collect())
            .unwrap_or_default()
    }

    /// True when `prefix` is a whole sequence of the trie.
    pub fn is_complete(&self, prefix: &[u32]) -> bool {
        self.walk(prefix).is_some_and(|n| n.terminal)
    }
}

/// Restricts the next token.
pub trait Constraint {
    /// The allowed next tokens after `generated`, or `None` to stop (the constrained part is
    /// complete).
    fn allowed(&self, generated: &[u32]) -> Option<Vec<u32>>;
}

impl Constraint for TokenTrie {
    fn allowed(&self, generated: &[u32]) -> Option<Vec<u32>> {
        let next = TokenTrie::allowed(self, generated);
        (!next.is_empty()).then_some(next)
    }
}

/// Picks the next token from `logits` (vocab,) — argmax when `temperature` is 0.
fn sample(
    logits: &Tensor,
    allowed: Option<&[u32]>,
    opts: &GenerateOptions,
    rng: &mut ChaCha8Rng,
) -> Result<u32, ModelError> {
    let mut logits: Vec<f32> = logits.to_dtype(DType::F32)?.to_vec1()?;
    if let Some(allowed) = allowed {
        let mut masked = vec![f32::NEG_INFINITY; logits.len()];
        for &id in allowed {
            if let Some(v) = logits.get(id as usize) {
                masked[id as usize] = *v;
            }
        }
        logits = masked;
    }
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i as u32)
    };
    if opts.temperature <= 0.0 {
        return Ok(argmax());
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(usize, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, l)| (i, (((l - max) as f64) / opts.temperature).exp()))
        .filter(|(_, p)| *p > 0.0)
        .collect();
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = probs.iter().map(|(_, p)| p).sum();
    let mut kept = 0.0;
    let mut cut = probs.len();
    for (i, (_, p)) in probs.iter().enumerate() {
        kept += p / total;
        if kept >= opts.top_p {
            cut = i + 1;
            break;
        }
    }
    probs.truncate(cut);
    let mass: f64 = probs.iter().map(|(_, p)| p).sum();
    let mut r = rng.random::<f64>() * mass;
    for (i, p) in &probs {
        r -= p;
        if r <= 0.0 {
            return Ok(*i as u32);
        }
    }
    Ok(probs.last().map_or_else(argmax, |(i, _)| *i as u32))
}

/// Generates a continuation of `prompt_ids`. `on_token` sees each new token id.
pub fn generate(
    model: &Model,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    opts: &GenerateOptions,
    constraint: Option<&dyn Constraint>,
    on_token: &mut dyn FnMut(u32),
) -> Result<Generation, ModelError> {
    let device = model.device();
    let eos = &model.config().eos_token_ids;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut cache = model.new_cache();
    let input = Tensor::new(prompt_ids, device)?.unsqueeze(0)?;
    let mut logits = model.forward_next(&input, None, &mut cache)?.squeeze(0)?;
    let mut ids: Vec<u32> = Vec::new();
    let mut stop = StopReason::Length;
    let mut text = String::new();
    for _ in 0..opts.max_tokens {
        let allowed = match constraint {
            Some(c) => match c.allowed(&ids) {
                Some(a) => Some(a),
                None => {
                    stop = StopReason::Constraint;
                    break;
                }
            },
            None => None,
        };
        let next = sample(&logits, allowed.as_deref(), opts, &mut rng)?;
        if allowed.is_none() && eos.contains(&next) {
            stop = StopReason::Eos;
            break;
        }
        ids.push(next);
        on_token(next);
        if !opts.stop.is_empty() {
            text = tokenizer.decode(&ids)?;
            if let Some(pos) = opts.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
                text.truncate(pos);
                stop = StopReason::StopString;
                return Ok(Generation {
                    ids,
                    text,
                    stop,
                    prompt_tokens: prompt_ids.len(),
                });
            }
        }
        let input = Tensor::new(&[next], device)?.unsqueeze(0)?;
        logits = model.forward_next(&input, None, &mut cache)?.squeeze(0)?;
    }
    if stop == StopReason::Length && constraint.is_some_and(|c| c.allowed(&ids).is_none()) {
        stop = StopReason::Constraint;
    }
    if opts.stop.is_empty() || text.is_empty() {
        text = tokenizer.decode(&ids)?;
    }
    Ok(Generation {
        ids,
        text,
        stop,
        prompt_tokens: prompt_ids.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trie_allows_only_known_continuations() {
        let labels: Vec<Vec<u32>> = vec![vec![5, 6], vec![5, 7, 8], vec![9]];
        let trie = TokenTrie::new(labels.iter().map(Vec::as_slice));
        assert_eq!(trie.allowed(&[]), vec![5, 9]);
        assert_eq!(trie.allowed(&[5]), vec![6, 7]);
        assert!(trie.allowed(&[5, 6]).is_empty());
        assert!(trie.is_complete(&[5, 6]) && !trie.is_complete(&[5]));
        assert!(trie.allowed(&[4]).is_empty());
        assert_eq!(Constraint::allowed(&trie, &[9]), None);
    }

    #[test]
    fn sampling_respects_constraints_and_seed() {
        let logits = Tensor::new(&[0.0f32, 5.0, 1.0, 4.0], &candle_core::Device::Cpu).unwrap();
        let greedy = GenerateOptions::default();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(sample(&logits, None, &greedy, &mut rng).unwrap(), 1);
        assert_eq!(
            sample(&logits, Some(&[0, 2]), &greedy, &mut rng).unwrap(),
            2
        );
        let hot = GenerateOptions {
            temperature: 1.0,
            top_p: 0.9,
            ..Default::default()
        };
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..20)
                .map(|_| sample(&logits, None, &hot, &mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert!(
            draw(3).iter().all(|&t| t == 1 || t == 3),
            "top-p 0.9 keeps the two likely tokens"
        );
    }
}
