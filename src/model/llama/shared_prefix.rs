//! Batched inference over many prompts that share a prefix (the instruction, few-shot
//! examples): the prefix runs once, and every row of a batch attends to its keys and values
//! without copies. Rows have their own lengths, positions and key/value caches, so tickets of
//! any length decode together, each row fed one or more tokens per step (inference only:
//! fused kernels, no gradients).

use super::{Attention, Kernels, Model};
use crate::model::ops::{self, RowKv};
use candle_core::{Result, Tensor};

/// Keys and values of a shared prompt prefix, one `(kv_heads, len, head_dim)` pair per layer.
#[derive(Debug, Clone)]
pub struct Prefix {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl Prefix {
    /// Tokens in the prefix.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty prefix.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The rows of a batch decoding after a [`Prefix`]: each row's own keys and values (its
/// tokens only, no padding) and its next position. Rows leave and join without copying any
/// cache.
#[derive(Debug, Clone, Default)]
pub struct RowBatch {
    rows: Vec<Row>,
}

/// One row of a [`RowBatch`].
#[derive(Debug, Clone)]
struct Row {
    /// Keys and values of the row's tokens, per layer.
    layers: Vec<RowKv>,
    /// Position of the row's next token.
    position: usize,
}

impl RowBatch {
    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Keeps only the rows in `keep` (in that order), e.g. after some rows finished.
    ///
    /// # Panics
    /// If an index is out of range or repeated.
    pub fn retain(&mut self, keep: &[usize]) {
        let mut old: Vec<Option<Row>> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(Some)
            .collect();
        self.rows = keep
            .iter()
            .map(|&i| old[i].take().expect("retain: each row kept once"))
            .collect();
    }

    /// Appends the rows of `other` (a batch after the same prefix) to this one.
    pub fn append(&mut self, other: RowBatch) {
        self.rows.extend(other.rows);
    }

    /// One batch per row, in row order (to continue each row its own way).
    pub fn split(self) -> Vec<RowBatch> {
        self.rows
            .into_iter()
            .map(|row| RowBatch { rows: vec![row] })
            .collect()
    }
}

impl Model {
    /// Runs `ids` once and keeps its keys and values as a shared prefix.
    pub fn prefix(&self, ids: &[u32]) -> Result<Prefix> {
        let mut cache = self.new_cache();
        if !ids.is_empty() {
            let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
            self.hidden(&input, None, Some(&mut cache), Kernels::Fused, None)?;
        }
        let layers = cache
            .layers
            .into_iter()
            .map(|l| {
                l.map(|(k, v)| Ok::<_, candle_core::Error>((k.squeeze(0)?, v.squeeze(0)?)))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        Ok(Prefix {
            layers,
            len: ids.len(),
        })
    }

    /// An empty batch of `rows` rows continuing `prefix`.
    pub fn row_batch(&self, prefix: &Prefix, rows: usize) -> RowBatch {
        let row = Row {
            layers: vec![RowKv::Empty; self.layers.len()],
            position: prefix.len,
        };
        RowBatch {
            rows: vec![row; rows],
        }
    }

    /// Feeds each row its next tokens (at least one per row; rows may differ in length) and
    /// returns the logits after each row's last token, (rows, vocab).
    ///
    /// The tokens of all rows run packed, without padding, through the whole decoder;
    /// attention gives each token the prefix and its own row's tokens up to itself.
    pub fn forward_rows(
        &self,
        prefix: &Prefix,
        batch: &mut RowBatch,
        tokens: &[Vec<u32>],
    ) -> Result<Tensor> {
        if tokens.len() != batch.rows() || tokens.iter().any(Vec::is_empty) {
            candle_core::bail!("forward_rows: one non-empty token list per row");
        }
        let counts: Vec<usize> = tokens.iter().map(Vec::len).collect();
        let n: usize = counts.iter().sum();
        let ids: Vec<u32> = tokens.iter().flatten().copied().collect();
        let mut pos = Vec::with_capacity(n);
        let mut last = Vec::with_capacity(tokens.len());
        for (row, &c) in batch.rows.iter_mut().zip(&counts) {
            pos.extend((row.position..row.position + c).map(|p| p as u32));
            row.position += c;
            last.push(pos.len() as u32 - 1);
        }
        let pos = Tensor::from_vec(pos, n, &self.device)?;
        let half = self.config.head_dim / 2;
        let table = |t: &Tensor| t.index_select(&pos, 0)?.reshape((n, 1, half));
        let (cos, sin) = (table(&self.rotary.cos)?, table(&self.rotary.sin)?);
        let ids = Tensor::from_vec(ids, n, &self.device)?;
        let mut x = self.embed_tokens.index_select(&ids, 0)?;
        let rows = RowPass {
            cos: &cos,
            sin: &sin,
            counts: &counts,
        };
        for (i, layer) in self.layers.iter().enumerate() {
            let h = layer.input_layernorm.forward(&x, Kernels::Fused)?;
            let mut caches: Vec<&mut RowKv> =
                batch.rows.iter_mut().map(|r| &mut r.layers[i]).collect();
            let h =
                layer
                    .self_attn
                    .forward_rows(&h, &rows, prefix.layers[i].as_ref(), &mut caches)?;
            x = (x + h)?;
            let h = layer.post_attention_layernorm.forward(&x, Kernels::Fused)?;
            x = (&x + layer.mlp.forward(&h, None)?)?;
        }
        let last = Tensor::new(last, &self.device)?;
        let h = x.index_select(&last, 0)?;
        self.logits(&self.norm.forward(&h, Kernels::Fused)?)
    }
}

/// What every layer of a [`Model::forward_rows`] pass shares.
struct RowPass<'a> {
    /// RoPE tables at each packed token's position, (tokens, 1, head_dim / 2).
    cos: &'a Tensor,
    sin: &'a Tensor,
    /// Tokens of each row, in row order.
    counts: &'a [usize],
}

impl Attention {
    fn forward_rows(
        &self,
        x: &Tensor,
        pass: &RowPass,
        prefix: Option<&(Tensor, Tensor)>,
        caches: &mut [&mut RowKv],
    ) -> Result<Tensor> {
        let n = x.dim(0)?;
        let d = self.head_dim;
        // Packed (n, heads · d) → (n, heads, 1, d): each token its own RoPE position.
        let rotate = |y: Tensor, heads: usize| {
            let y = y.reshape((n, heads, 1, d))?.contiguous()?;
            candle_nn::rotary_emb::rope(&y, pass.cos, pass.sin)
        };
        let [q, k, v] = self.project_qkv(x, None)?;
        let q = rotate(q, self.num_heads)?;
        let k = rotate(k, self.num_kv_heads)?;
        let v = v.contiguous()?;
        let prefix = prefix
            .filter(|(pk, _)| pk.dim(1).unwrap_or(0) > 0)
            .map(|(k, v)| (k, v));
        let shape = ops::RowAttention {
            heads: self.num_heads,
            kv: self.num_kv_heads,
            d,
            scale: 1.0 / (d as f32).sqrt(),
        };
        let y = ops::row_attention(&q, &k, &v, prefix, caches, pass.counts, shape)?;
        self.o_proj.forward(&y, None)
    }
}
