//! Training sequences as tensors: right-padded rows, their next-token targets and the loss
//! mask over each row's completion, with the prompt head that every row shares split off so
//! that the model runs it once per batch ([`super::Model::completion_loss`]).

use candle_core::{Device, Result, Tensor};

/// The shortest shared head worth a pass of its own.
const MIN_SHARED_HEAD: usize = 4;

/// One training sequence: prompt then completion token ids.
#[derive(Debug, Clone, Copy)]
pub struct Sequence<'a> {
    /// Prompt, completion and end-of-sequence ids.
    pub ids: &'a [u32],
    /// Index of the first completion token (the loss counts from it on).
    pub completion_start: usize,
}

/// A batch for [`super::Model::completion_loss`].
#[derive(Debug)]
pub struct Batch {
    /// The first tokens of every row, (1, h), when they are shared and long enough: they run
    /// once and every row attends to them. The loss counts none of them.
    pub head: Option<Tensor>,
    /// Each row's tokens after the head, right-padded, (b, t).
    pub ids: Tensor,
    /// The next token at each position, (b, t).
    pub targets: Tensor,
    /// 1 where the target is a completion token (the loss counts it), (b, t).
    pub mask: Tensor,
    /// Targets the loss counts.
    pub counted: usize,
}

impl Batch {
    /// The batch of `rows`, padded with `pad`; with `share_head`, the prefix they all share
    /// is split off (see [`shared_head`]).
    pub fn new(rows: &[Sequence], pad: u32, share_head: bool, device: &Device) -> Result<Batch> {
        let h = if share_head { shared_head(rows) } else { 0 };
        let t = rows.iter().map(|r| r.ids.len() - h).max().unwrap_or(1);
        let b = rows.len();
        let mut ids = vec![pad; b * t];
        let mut targets = vec![pad; b * t];
        let mut mask = vec![0u8; b * t];
        let mut counted = 0;
        for (r, row) in rows.iter().enumerate() {
            let n = row.ids.len() - h;
            ids[r * t..r * t + n].copy_from_slice(&row.ids[h..]);
            for p in 0..n - 1 {
                targets[r * t + p] = row.ids[h + p + 1];
                if h + p + 1 >= row.completion_start {
                    mask[r * t + p] = 1;
                    counted += 1;
                }
            }
        }
        let head = match h {
            0 => None,
            _ => Some(Tensor::new(&rows[0].ids[..h], device)?.unsqueeze(0)?),
        };
        Ok(Batch {
            head,
            ids: Tensor::from_vec(ids, (b, t), device)?,
            targets: Tensor::from_vec(targets, (b, t), device)?,
            mask: Tensor::from_vec(mask, (b, t), device)?,
            counted,
        })
    }
}

/// How many first tokens every row of `rows` shares, stopping before the position whose
/// next token is a completion token (so that the loss counts none of the head); 0 for a
/// single row or a head shorter than [`MIN_SHARED_HEAD`].
pub fn shared_head(rows: &[Sequence]) -> usize {
    let Some((first, rest)) = rows.split_first() else {
        return 0;
    };
    if rest.is_empty() {
        return 0;
    }
    let limit = rows
        .iter()
        .map(|r| r.completion_start.saturating_sub(1))
        .min()
        .unwrap_or(0);
    let h = (0..limit)
        .take_while(|&i| rest.iter().all(|r| r.ids[i] == first.ids[i]))
        .count();
    if h < MIN_SHARED_HEAD {
        0
    } else {
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<T: candle_core::WithDType>(t: &Tensor) -> Vec<T> {
        t.flatten_all().unwrap().to_vec1::<T>().unwrap()
    }

    #[test]
    fn the_shared_head_stops_before_the_first_counted_target() {
        let a = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let b = [1, 2, 3, 4, 5, 6, 9];
        let rows = [
            Sequence {
                ids: &a,
                completion_start: 7,
            },
            Sequence {
                ids: &b,
                completion_start: 6,
            },
        ];
        // Six tokens in common, but position 4 predicts b's first completion token.
        assert_eq!(shared_head(&rows), 5);
        assert_eq!(shared_head(&rows[..1]), 0, "one row shares with nobody");
        let c = [1, 2, 3, 0, 5, 6, 7];
        let short = [
            rows[0],
            Sequence {
                ids: &c,
                completion_start: 6,
            },
        ];
        assert_eq!(shared_head(&short), 0, "three tokens are not worth a pass");

        let batch = Batch::new(&rows, 0, true, &Device::Cpu).unwrap();
        assert_eq!(values::<u32>(batch.head.as_ref().unwrap()), [1, 2, 3, 4, 5]);
        assert_eq!(values::<u32>(&batch.ids), [6, 7, 8, 9, 6, 9, 0, 0]);
        assert_eq!(values::<u32>(&batch.targets), [7, 8, 9, 0, 9, 0, 0, 0]);
        // Position 5 (the rows' first) predicts a's last prompt token: not counted.
        assert_eq!(values::<u8>(&batch.mask), [0, 1, 1, 0, 1, 0, 0, 0]);
        assert_eq!(batch.counted, 3);

        let whole = Batch::new(&rows, 0, false, &Device::Cpu).unwrap();
        assert!(whole.head.is_none());
        assert_eq!(whole.ids.dims(), [2, 9]);
        assert_eq!(whole.counted, 3, "the same targets counted");
    }
}
