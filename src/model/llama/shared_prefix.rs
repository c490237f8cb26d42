//! Batched inference over many prompts that share a prefix (the instruction, few-shot
//! examples): the prefix runs once, and every row of a batch attends to its keys and values
//! without copies. Rows have their own lengths and positions, so tickets of any length decode
//! together, one token per row per step (inference only: fused kernels, no gradients).

use super::{Attention, Kernels, Model};
use crate::model::ops;
use candle_core::{Result, Tensor, D};

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

/// One layer's keys and values for the rows of a batch: buffers of (rows, kv_heads, capacity,
/// head_dim) whose first `len` columns are filled. New columns are written in place; the
/// buffers grow geometrically, so a step does not copy the whole cache.
#[derive(Debug, Clone)]
struct RowKv {
    k: Tensor,
    v: Tensor,
    len: usize,
}

impl RowKv {
    /// The filled columns of the keys and the values (views).
    fn filled(&self) -> Result<(Tensor, Tensor)> {
        Ok((
            self.k.narrow(2, 0, self.len)?,
            self.v.narrow(2, 0, self.len)?,
        ))
    }

    /// Appends `k` and `v` (rows, kv_heads, t, head_dim) to `slot` as new columns.
    fn push(slot: &mut Option<RowKv>, k: &Tensor, v: &Tensor) -> Result<()> {
        let t = k.dim(2)?;
        let Some(kv) = slot else {
            *slot = Some(RowKv {
                k: k.contiguous()?,
                v: v.contiguous()?,
                len: t,
            });
            return Ok(());
        };
        let capacity = kv.k.dim(2)?;
        if kv.len + t > capacity {
            let (b, heads, _, d) = kv.k.dims4()?;
            let capacity = (kv.len + t).max(capacity * 2);
            let (fk, fv) = kv.filled()?;
            let grow = |x: &Tensor| -> Result<Tensor> {
                let buf = Tensor::zeros((b, heads, capacity, d), x.dtype(), x.device())?;
                buf.slice_set(&x.contiguous()?, 2, 0)?;
                Ok(buf)
            };
            kv.k = grow(&fk)?;
            kv.v = grow(&fv)?;
        }
        kv.k.slice_set(&k.contiguous()?, 2, kv.len)?;
        kv.v.slice_set(&v.contiguous()?, 2, kv.len)?;
        kv.len += t;
        Ok(())
    }

    /// Rows `idx` (dim 0, capacity kept) or columns `idx` (dim 2, as an exact-size buffer).
    fn select(&self, idx: &Tensor, dim: usize) -> Result<RowKv> {
        Ok(RowKv {
            k: self.k.index_select(idx, dim)?,
            v: self.v.index_select(idx, dim)?,
            len: if dim == 0 { self.len } else { idx.dim(0)? },
        })
    }
}

/// The per-row state of a batch decoding after a [`Prefix`]: each row's own keys and values,
/// which columns hold real tokens, and each row's next position.
#[derive(Debug, Clone)]
pub struct RowBatch {
    layers: Vec<Option<RowKv>>,
    /// (rows, columns): 1 where a column holds one of the row's tokens.
    valid: Vec<Vec<u8>>,
    positions: Vec<usize>,
}

impl RowBatch {
    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.positions.len()
    }

    /// Keeps only the rows in `keep` (in that order), e.g. after some rows finished.
    pub fn retain(&mut self, keep: &[usize]) -> Result<()> {
        if keep.len() == self.rows() && keep.iter().enumerate().all(|(i, &k)| i == k) {
            return Ok(());
        }
        let device = self
            .layers
            .iter()
            .flatten()
            .next()
            .map(|kv| kv.k.device().clone());
        if let Some(device) = device {
            let idx = Tensor::new(keep.iter().map(|&i| i as u32).collect::<Vec<_>>(), &device)?;
            for kv in self.layers.iter_mut().flatten() {
                *kv = kv.select(&idx, 0)?;
            }
        }
        self.valid = keep.iter().map(|&i| self.valid[i].clone()).collect();
        self.positions = keep.iter().map(|&i| self.positions[i]).collect();
        self.drop_unused_columns()
    }

    /// Removes columns no row uses any more (rows that joined later reuse the column slots
    /// of rows that left, so without this the batch would only ever widen).
    fn drop_unused_columns(&mut self) -> Result<()> {
        let width = self.columns();
        let used: Vec<u32> = (0..width)
            .filter(|&j| self.valid.iter().any(|v| v[j] == 1))
            .map(|j| j as u32)
            .collect();
        if used.len() == width || self.valid.is_empty() {
            return Ok(());
        }
        if let Some(kv) = self.layers.iter().flatten().next() {
            let idx = Tensor::new(used.as_slice(), kv.k.device())?;
            for kv in self.layers.iter_mut().flatten() {
                *kv = kv.select(&idx, 2)?;
            }
        }
        for v in &mut self.valid {
            *v = used.iter().map(|&j| v[j as usize]).collect();
        }
        Ok(())
    }
}

impl RowBatch {
    /// Appends the rows of `other` (a batch after the same prefix) to this one.
    pub fn append(&mut self, other: RowBatch) -> Result<()> {
        if self.rows() == 0 {
            *self = other;
            return Ok(());
        }
        let (mine, theirs) = (self.columns(), other.columns());
        let width = mine.max(theirs);
        for (a, b) in self.layers.iter_mut().zip(other.layers) {
            *a = match (a.take(), b) {
                (Some(a), Some(b)) => {
                    let ((ka, va), (kb, vb)) = (a.filled()?, b.filled()?);
                    Some(RowKv {
                        k: Tensor::cat(&[pad_columns(&ka, width)?, pad_columns(&kb, width)?], 0)?,
                        v: Tensor::cat(&[pad_columns(&va, width)?, pad_columns(&vb, width)?], 0)?,
                        len: width,
                    })
                }
                (a, b) => a.or(b),
            };
        }
        for v in &mut self.valid {
            v.resize(width, 0);
        }
        for mut v in other.valid {
            v.resize(width, 0);
            self.valid.push(v);
        }
        self.positions.extend(other.positions);
        Ok(())
    }

    fn columns(&self) -> usize {
        self.valid.first().map_or(0, Vec::len)
    }
}

/// `x` (rows, kv, columns, d) widened to `width` columns with zeros (masked as invalid).
fn pad_columns(x: &Tensor, width: usize) -> Result<Tensor> {
    let (b, kv, t, d) = x.dims4()?;
    if t == width {
        return Ok(x.clone());
    }
    let zeros = Tensor::zeros((b, kv, width - t, d), x.dtype(), x.device())?;
    Tensor::cat(&[x, &zeros], 2)
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
        RowBatch {
            layers: vec![None; self.layers.len()],
            valid: vec![Vec::new(); rows],
            positions: vec![prefix.len; rows],
        }
    }

    /// Feeds each row its next tokens (at least one per row; rows may differ in length) and
    /// returns the logits after each row's last token, (rows, vocab).
    ///
    /// The tokens run packed, without padding, through everything but attention (the
    /// projections and the MLP, nearly all the work); attention pads them to (rows, longest).
    pub fn forward_rows(
        &self,
        prefix: &Prefix,
        batch: &mut RowBatch,
        tokens: &[Vec<u32>],
    ) -> Result<Tensor> {
        let b = batch.rows();
        if tokens.len() != b || tokens.iter().any(Vec::is_empty) {
            candle_core::bail!("forward_rows: one non-empty token list per row");
        }
        let t = tokens.iter().map(Vec::len).max().unwrap_or(1);
        let n: usize = tokens.iter().map(Vec::len).sum();
        let mut ids = Vec::with_capacity(n);
        let mut pos = Vec::with_capacity(b * t);
        // Padded slot → packed token (`n`, an all-zero row, for padding) and back.
        let mut to_padded = Vec::with_capacity(b * t);
        let mut to_packed = Vec::with_capacity(n);
        let mut last = Vec::with_capacity(b);
        for (row, toks) in tokens.iter().enumerate() {
            for i in 0..t {
                pos.push((batch.positions[row] + i.min(toks.len() - 1)) as u32);
                if let Some(&id) = toks.get(i) {
                    to_padded.push(ids.len() as u32);
                    to_packed.push((row * t + i) as u32);
                    ids.push(id);
                } else {
                    to_padded.push(n as u32);
                }
            }
            last.push(ids.len() as u32 - 1);
        }
        let pos = Tensor::from_vec(pos, b * t, &self.device)?;
        let half = self.config.head_dim / 2;
        let cos = self
            .rotary
            .cos
            .index_select(&pos, 0)?
            .reshape((b, t, half))?;
        let sin = self
            .rotary
            .sin
            .index_select(&pos, 0)?
            .reshape((b, t, half))?;
        let cached = batch.valid.first().map_or(0, Vec::len);
        for (row, toks) in tokens.iter().enumerate() {
            let v = &mut batch.valid[row];
            v.extend((0..t).map(|i| u8::from(i < toks.len())));
            batch.positions[row] += toks.len();
        }
        let bias = row_bias(&batch.valid, cached, t);
        let packing = if n < b * t {
            Some(Packing {
                to_padded: Tensor::new(to_padded.as_slice(), &self.device)?,
                to_packed: Tensor::new(to_packed.as_slice(), &self.device)?,
            })
        } else {
            None
        };
        let rows = RowPass {
            cos: &cos,
            sin: &sin,
            bias: &bias,
            b,
            t,
            packing: packing.as_ref(),
        };
        let ids = Tensor::from_vec(ids, n, &self.device)?;
        let mut x = self.embed_tokens.index_select(&ids, 0)?;
        for (i, layer) in self.layers.iter().enumerate() {
            let h = layer.input_layernorm.forward(&x, Kernels::Fused)?;
            let h = layer.self_attn.forward_rows(
                &h,
                &rows,
                prefix.layers[i].as_ref(),
                &mut batch.layers[i],
            )?;
            x = (x + h)?;
            let h = layer.post_attention_layernorm.forward(&x, Kernels::Fused)?;
            x = (&x + layer.mlp.forward(&h, None)?)?;
        }
        let last = Tensor::new(last, &self.device)?;
        let h = x.index_select(&last, 0)?;
        self.logits(&self.norm.forward(&h, Kernels::Fused)?)
    }
}

/// Where the tokens of a ragged [`Model::forward_rows`] pass sit: packed (no padding) or
/// padded to (rows, longest).
struct Packing {
    /// For each padded slot, its packed token (for padding: the token count, which reads an
    /// all-zero row).
    to_padded: Tensor,
    /// For each packed token, its padded slot.
    to_packed: Tensor,
}

/// What every layer of a [`Model::forward_rows`] pass shares.
struct RowPass<'a> {
    cos: &'a Tensor,
    sin: &'a Tensor,
    /// (rows, t, columns) additive bias over the rows' own columns.
    bias: &'a [f32],
    b: usize,
    t: usize,
    /// None when every row has `t` tokens (packed and padded are then the same).
    packing: Option<&'a Packing>,
}

impl RowPass<'_> {
    /// Packed (tokens, w) → padded (b, t, w), zeros in the padding.
    fn pad(&self, y: &Tensor) -> Result<Tensor> {
        let y = match self.packing {
            Some(p) => {
                let zero = Tensor::zeros((1, y.dim(1)?), y.dtype(), y.device())?;
                Tensor::cat(&[y, &zero], 0)?.index_select(&p.to_padded, 0)?
            }
            None => y.clone(),
        };
        y.reshape((self.b, self.t, ()))
    }

    /// Padded (b, t, w) → packed (tokens, w).
    fn pack(&self, y: &Tensor) -> Result<Tensor> {
        let y = y.reshape((self.b * self.t, ()))?;
        match self.packing {
            Some(p) => y.index_select(&p.to_packed, 0),
            None => Ok(y),
        }
    }
}

/// Bias over the rows' own columns for `t` new tokens after `cached` columns: a query sees
/// the row's valid columns up to itself.
fn row_bias(valid: &[Vec<u8>], cached: usize, t: usize) -> Vec<f32> {
    let total = cached + t;
    let mut v = Vec::with_capacity(valid.len() * t * total);
    for row in valid {
        for i in 0..t {
            v.extend((0..total).map(|j| {
                if row[j] == 1 && j <= cached + i {
                    0f32
                } else {
                    // Finite: a padding query that sees nothing of its own still has the prefix.
                    -1e9
                }
            }));
        }
    }
    v
}

impl Attention {
    fn forward_rows(
        &self,
        x: &Tensor,
        pass: &RowPass,
        prefix: Option<&(Tensor, Tensor)>,
        own: &mut Option<RowKv>,
    ) -> Result<Tensor> {
        let (b, t) = (pass.b, pass.t);
        let heads = |y: Tensor, n: usize| {
            pass.pad(&y)?
                .reshape((b, t, n, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let [q, k, v] = self.project_qkv(x, None)?;
        let q = heads(q, self.num_heads)?;
        let k = heads(k, self.num_kv_heads)?;
        let v = heads(v, self.num_kv_heads)?;
        let q = candle_nn::rotary_emb::rope(&q, pass.cos, pass.sin)?;
        let k = candle_nn::rotary_emb::rope(&k, pass.cos, pass.sin)?;
        RowKv::push(own, &k, &v)?;
        let kvs = own.as_ref().expect("just pushed");
        let prefix = prefix.filter(|(pk, _)| pk.dim(1).unwrap_or(0) > 0);
        let shape = ops::RowAttention {
            b,
            heads: self.num_heads,
            kv: self.num_kv_heads,
            t,
            d: self.head_dim,
            scale: 1.0 / (self.head_dim as f32).sqrt(),
        };
        let own_kv = (&kvs.k, &kvs.v);
        let prefix_kv = prefix.map(|(k, v)| (k, v));
        if let Some(y) = ops::row_attention(&q, prefix_kv, own_kv, kvs.len, pass.bias, shape)? {
            return self.o_proj.forward(&pass.pack(&y)?, None);
        }
        let (k, v) = kvs.filled()?;
        let bias = Tensor::from_slice(pass.bias, (b, 1, t, kvs.len), x.device())?;
        let kv = self.num_kv_heads;
        let rep = self.num_heads / kv;
        let d = self.head_dim;
        let total = k.dim(2)?;
        let scale = 1.0 / (d as f64).sqrt();
        // Own columns: (b, kv, rep·t, total), as in the single-sequence path.
        let q = q.reshape((b, kv, rep * t, d))?;
        let own_scores = (q.matmul(&k.t()?)? * scale)?
            .reshape((b, kv, rep, t, total))?
            .broadcast_add(&bias.unsqueeze(1)?)?
            .reshape((b, kv, rep * t, total))?;
        let Some((pk, pv)) = prefix else {
            let probs = candle_nn::ops::softmax_last_dim(&own_scores.contiguous()?)?;
            let y = pass.pack(&merge_heads(&probs.matmul(&v)?, b, t, self)?)?;
            return self.o_proj.forward(&y, None);
        };
        // Prefix columns: every row's queries against the one prefix, (kv, b·rep·t, p).
        let p = pk.dim(1)?;
        let qp = q
            .transpose(0, 1)?
            .contiguous()?
            .reshape((kv, b * rep * t, d))?;
        let prefix_scores = (qp.matmul(&pk.t()?)? * scale)?
            .reshape((kv, b, rep * t, p))?
            .transpose(0, 1)?;
        let scores = Tensor::cat(&[&prefix_scores, &own_scores], D::Minus1)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores.contiguous()?)?;
        let from_prefix = probs
            .narrow(D::Minus1, 0, p)?
            .transpose(0, 1)?
            .contiguous()?
            .reshape((kv, b * rep * t, p))?
            .matmul(pv)?
            .reshape((kv, b, rep * t, d))?
            .transpose(0, 1)?;
        let from_own = probs
            .narrow(D::Minus1, p, total)?
            .contiguous()?
            .matmul(&v)?;
        let y = (from_prefix + from_own)?;
        self.o_proj
            .forward(&pass.pack(&merge_heads(&y, b, t, self)?)?, None)
    }
}

/// (b, kv, rep·t, d) attention output → (b, t, heads·d).
fn merge_heads(y: &Tensor, b: usize, t: usize, a: &Attention) -> Result<Tensor> {
    y.reshape((b, a.num_heads, t, a.head_dim))?
        .transpose(1, 2)?
        .reshape((b, t, a.num_heads * a.head_dim))
}
