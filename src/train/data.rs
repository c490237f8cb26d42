//! Turning examples into training sequences: prompt + completion token ids with a loss mask
//! on the completion (and EOS) only, truncation that keeps the completion, and length-bucketed
//! batches in a reproducible order.

use crate::example::Example;
use crate::model::{Sequence, Tokenizer};
use crate::template::Template;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Prompt tokens always kept at the start when a prompt is cut (the instruction).
const KEEP_HEAD: usize = 16;

/// One tokenized example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Prompt then completion then EOS.
    pub input_ids: Vec<u32>,
    /// Index of the first completion token in `input_ids`.
    pub completion_start: usize,
    /// Prompt tokens dropped to fit `max_len` (0 = not truncated).
    pub truncated: usize,
}

impl Encoded {
    /// Tokens that carry loss (completion + EOS).
    pub fn target_tokens(&self) -> usize {
        self.input_ids.len() - self.completion_start
    }

    /// The model's view of it.
    pub fn sequence(&self) -> Sequence<'_> {
        Sequence {
            ids: &self.input_ids,
            completion_start: self.completion_start,
        }
    }
}

/// Tokenizes `example` with `template`. When prompt + completion exceed `max_len`, the middle
/// of the prompt (the ticket text) is cut, keeping the instruction and the end of the prompt
/// (`…Classification:`); the completion is never cut unless it alone is too long.
pub fn encode(
    tokenizer: &Tokenizer,
    template: &Template,
    example: &Example,
    max_len: usize,
    eos: u32,
) -> Result<Encoded, crate::model::ModelError> {
    let mut prompt = tokenizer.encode(&template.prompt(&example.text))?;
    let mut completion = tokenizer.encode_plain(&template.completion(
        &example.text,
        &example.label,
        &example.fields,
    ))?;
    completion.push(eos);
    completion.truncate(max_len.saturating_sub(1).max(1));
    let room = max_len.saturating_sub(completion.len());
    let mut truncated = 0;
    if prompt.len() > room {
        truncated = prompt.len() - room;
        let head = KEEP_HEAD.min(room);
        let tail = room - head;
        let mut kept = prompt[..head].to_vec();
        kept.extend_from_slice(&prompt[prompt.len() - tail..]);
        prompt = kept;
    }
    let completion_start = prompt.len();
    prompt.extend(completion);
    Ok(Encoded {
        input_ids: prompt,
        completion_start,
        truncated,
    })
}

/// Batches of indices into `lengths` for one epoch: shuffled with `seed` + `epoch`, grouped
/// into windows of 50 batches that are sorted by length (so batches hold similar lengths and
/// little padding), then the batch order is shuffled again.
pub fn batches(lengths: &[usize], batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut rng);
    let mut out = Vec::new();
    for window in order.chunks(batch_size * 50) {
        let mut window = window.to_vec();
        window.sort_by_key(|&i| lengths[i]);
        out.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    out.shuffle(&mut rng);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_example_once_and_are_reproducible() {
        let lengths: Vec<usize> = (0..103).map(|i| (i * 37) % 91).collect();
        let a = batches(&lengths, 8, 42, 0);
        assert_eq!(a, batches(&lengths, 8, 42, 0));
        assert_ne!(
            a,
            batches(&lengths, 8, 42, 1),
            "each epoch has its own order"
        );
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert!(a.iter().all(|b| b.len() <= 8));
    }
}
