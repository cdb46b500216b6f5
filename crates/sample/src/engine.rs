//! A plain-Rust LSTM forward pass for generation: no autodiff, no tensors, buffers
//! allocated once; one or more streams advance one character per step, so the
//! weights are read once per step however many samples are drawn.
//!
//! A stream's logits never depend on the streams beside it or on the number
//! of threads: every product sums a row in `charrnn_cpu`'s one order, whether
//! it runs as a vector-matrix product (one stream), a packed GEMM (several)
//! or an exact logit after the bfloat16 bound ([`Engine::step_top_n`]). So the
//! same seed gives the same text alone, in a batch, or in a server's batch.

use charrnn_cpu::{dot, lstm_cell, matmul, Bf16, Mat, Output, PackedRhs, Team};

use crate::weights::Weights;

/// Layers above the first: the input and recurrent weights stacked, so one GEMM
/// of `[below | own hidden]` gives the gate pre-activations.
struct UpperLayer {
    /// `[input + hidden, 4*hidden]`, row-major.
    w: Vec<f32>,
    bias: Vec<f32>,
}

/// The output layer prepared for top-n sampling of one stream: a first pass
/// over weights rounded to bfloat16 (half the memory traffic of the largest
/// product) bounds every logit; only the characters that can still be among
/// the top n get their exact logit, from their own row of exact weights.
struct TopOutput {
    /// `[hidden, vocab]`, rounded to bfloat16.
    approx: Vec<Bf16>,
    /// `[vocab, hidden]`: each character's exact weights.
    exact: Vec<f32>,
    /// Per character: how far its rounded logit can lie from its exact one,
    /// per unit of `‖h‖₁` (weight rounding plus both sums' float rounding) ...
    per_norm: Vec<f32>,
    /// ... plus this (the float rounding of adding the bias).
    fixed: Vec<f32>,
    /// Scratch: a lower bound of each exact logit.
    lower: Vec<f32>,
}

impl TopOutput {
    /// Prepares `w_out` (`[hidden, vocab]`) and its bias.
    fn new(w_out: &[f32], b_out: &[f32], hidden: usize) -> Self {
        let vocab = b_out.len();
        let approx: Vec<Bf16> = w_out.iter().map(|&w| Bf16::round(w)).collect();
        let mut exact = vec![0.0; vocab * hidden];
        let (mut rounding, mut largest) = (vec![0.0f32; vocab], vec![0.0f32; vocab]);
        for (i, (row, approx_row)) in w_out
            .chunks_exact(vocab)
            .zip(approx.chunks_exact(vocab))
            .enumerate()
        {
            for (j, (&w, a)) in row.iter().zip(approx_row).enumerate() {
                exact[j * hidden + i] = w;
                rounding[j] = rounding[j].max((w - a.to_f32()).abs());
                largest[j] = largest[j].max(w.abs());
            }
        }
        // A float sum of n terms errs by at most about n·2⁻²⁴ of the sum of
        // their magnitudes; doubled for the two sums compared, and widened by
        // 1 % (which also covers a rounded weight's magnitude above its own).
        let float = (hidden + 1) as f32 * f32::EPSILON * 1.01;
        Self {
            approx,
            exact,
            per_norm: rounding
                .iter()
                .zip(&largest)
                .map(|(&r, &m)| 1.01 * (r + float * m))
                .collect(),
            fixed: b_out.iter().map(|b| float * b.abs()).collect(),
            lower: vec![0.0; vocab],
        }
    }
}

/// The weights of the three per-step products, packed once for the GEMM
/// kernel: several streams make each product a real GEMM, and packing its
/// right-hand side on every call cost more than the multiply-adds.
struct PackedWeights {
    w_hh0: PackedRhs,
    upper: Vec<PackedRhs>,
    w_out: PackedRhs,
}

/// Streams from which the products run on packed weights. This is a choice
/// of speed alone: a packed product gives each row what the vector-matrix
/// product gives it ([`Team::matmul_packed`]).
const PACK_FROM_STREAMS: usize = 2;

/// The packed weights, when the streams are many enough to use them.
fn packed_for(packed: &Option<PackedWeights>, streams: usize) -> Option<&PackedWeights> {
    packed.as_ref().filter(|_| streams >= PACK_FROM_STREAMS)
}

/// The model's weights in plain memory, and the state of its streams.
pub struct Engine {
    vocab_size: usize,
    embed_size: usize,
    hidden: usize,
    /// `[vocab, embed]`.
    embedding: Vec<f32>,
    /// The first layer's `[embed, 4*hidden]` input weights and bias.
    w_ih0: Vec<f32>,
    bias0: Vec<f32>,
    /// `[hidden, 4*hidden]`: the first layer's recurrent weights.
    w_hh0: Vec<f32>,
    /// `embedding[v] · w_ih0 + bias0` for each character `v`, computed the first
    /// time `v` is fed: the first layer's input GEMM becomes a row lookup.
    input_rows: Vec<f32>,
    input_ready: Vec<bool>,
    upper: Vec<UpperLayer>,
    /// `[hidden, vocab]`.
    w_out: Vec<f32>,
    b_out: Vec<f32>,
    top: TopOutput,
    /// Made the first time the engine has [`PACK_FROM_STREAMS`] streams.
    packed: Option<PackedWeights>,
    streams: usize,
    /// Per layer, `[streams, hidden]`.
    h: Vec<Vec<f32>>,
    c: Vec<Vec<f32>>,
    /// `[streams, 4*hidden]`: gate pre-activations.
    z: Vec<f32>,
    /// `[streams, 2*hidden]`: an upper layer's input and own hidden state.
    xh: Vec<f32>,
    /// `[streams, vocab]`.
    logits: Vec<f32>,
    /// Splits a single stream's products across the cores.
    team: Team,
}

/// `out = out + x · w` for the rows of `x` (`[rows, k]`), `w` `[k, n]` (also
/// given packed, for many streams), split by columns across `team`, whose
/// threads spin between the products of a character instead of sleeping.
/// Each row's values are the same on either path.
fn product(
    team: &mut Team,
    out: &mut [f32],
    x: &[f32],
    (w, packed): (&[f32], Option<&PackedRhs>),
    k: usize,
) {
    let n = w.len() / k;
    match packed {
        Some(packed) => {
            let rows = Mat::new(x, x.len() / k, k);
            team.matmul_packed(out, rows, packed, Output::Accumulate);
        }
        None => {
            for (y, x) in out.chunks_exact_mut(n).zip(x.chunks_exact(k)) {
                team.vec_mat(y, x, w, true);
            }
        }
    }
}

/// Applies the gates (order i, f, o, g) of `streams` rows of `z` to `c` and `h`
/// (`z` is overwritten with the activations); many streams' gates are split
/// across `team`, between products that are.
fn apply_gates(team: &mut Team, z: &mut [f32], c: &mut [f32], h: &mut [f32], hidden: usize) {
    let rows = z
        .chunks_exact_mut(4 * hidden)
        .zip(c.chunks_exact_mut(hidden))
        .zip(h.chunks_exact_mut(hidden));
    per_stream(team, rows, |((z, c), h)| lstm_cell(z, c, h));
}

/// Streams from which the gates and the draws are split across the team
/// (below, handing work to the other threads costs more than it saves).
const PARALLEL_STREAMS: usize = 8;

/// Runs `work` on each stream's item, split across `team` from
/// [`PARALLEL_STREAMS`] items on.
fn per_stream<I>(team: &mut Team, items: I, work: impl Fn(&mut I::Item) + Sync)
where
    I: ExactSizeIterator,
    I::Item: Send,
{
    if items.len() < PARALLEL_STREAMS {
        items.for_each(|mut item| work(&mut item));
    } else {
        let mut items: Vec<_> = items.collect();
        team.for_each(&mut items, work);
    }
}

impl Engine {
    /// Copies the weights of `model` (on any backend) into plain memory; one
    /// stream, zero state.
    #[cfg(feature = "burn")]
    pub fn from_model<B: burn::tensor::backend::Backend>(
        model: &charrnn_model::CharRnn<B>,
    ) -> Self {
        Self::new(Weights::from_model(model))
    }

    /// An engine over `weights` (whose sizes must fit: [`Weights::check`]);
    /// one stream, zero state.
    pub fn new(weights: Weights) -> Self {
        let hidden = weights.hidden_size;
        let vocab_size = weights.vocab_size;
        let mut layers = weights.layers.into_iter();
        let first = layers.next().expect("a model has at least one layer");
        let upper = layers
            .map(|l| UpperLayer {
                w: [l.w_ih, l.w_hh].concat(),
                bias: l.bias,
            })
            .collect();
        let top = TopOutput::new(&weights.output_weight, &weights.output_bias, hidden);
        let mut engine = Self {
            vocab_size,
            embed_size: weights.embed_size,
            hidden,
            embedding: weights.embedding,
            w_ih0: first.w_ih,
            bias0: first.bias,
            w_hh0: first.w_hh,
            // Zeroed pages cost no memory until a character's row is written.
            input_rows: vec![0.0; vocab_size * 4 * hidden],
            input_ready: vec![false; vocab_size],
            upper,
            w_out: weights.output_weight,
            b_out: weights.output_bias,
            top,
            packed: None,
            streams: 0,
            h: Vec::new(),
            c: Vec::new(),
            z: Vec::new(),
            xh: Vec::new(),
            logits: Vec::new(),
            team: Team::per_core(),
        };
        engine.set_streams(1);
        engine
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// How many streams each [`step_streams`](Self::step_streams) advances.
    pub fn streams(&self) -> usize {
        self.streams
    }

    /// Bytes each stream's state and scratch take.
    pub fn bytes_per_stream(&self) -> usize {
        let layers = 1 + self.upper.len();
        let floats = 2 * layers * self.hidden + 6 * self.hidden + self.vocab_size;
        floats * std::mem::size_of::<f32>()
    }

    /// Sets the number of streams; every stream starts from a zero state.
    pub fn set_streams(&mut self, streams: usize) {
        assert!(streams > 0, "at least one stream");
        let layers = 1 + self.upper.len();
        self.h = vec![Vec::new(); layers];
        self.c = vec![Vec::new(); layers];
        self.resize_streams(streams);
    }

    /// Sets the number of streams, keeping the state of those that stay; new
    /// ones start from a zero state.
    fn resize_streams(&mut self, streams: usize) {
        let n = self.hidden;
        for state in self.h.iter_mut().chain(&mut self.c) {
            state.resize(streams * n, 0.0);
        }
        self.z.resize(streams * 4 * n, 0.0);
        self.xh.resize(streams * 2 * n, 0.0);
        self.logits.resize(streams * self.vocab_size, 0.0);
        self.streams = streams;
        self.pack_if_many();
    }

    /// Packs the weights the first time there are enough streams to use them.
    fn pack_if_many(&mut self) {
        if self.streams >= PACK_FROM_STREAMS && self.packed.is_none() {
            self.packed = Some(self.pack());
        }
    }

    fn pack(&self) -> PackedWeights {
        let (n, four) = (self.hidden, 4 * self.hidden);
        PackedWeights {
            w_hh0: PackedRhs::new(Mat::new(&self.w_hh0, n, four)),
            upper: self
                .upper
                .iter()
                .map(|l| PackedRhs::new(Mat::new(&l.w, 2 * n, four)))
                .collect(),
            w_out: PackedRhs::new(Mat::new(&self.w_out, n, self.vocab_size)),
        }
    }

    /// Stream `s`'s state in `layer` (bottom first): its hidden and cell
    /// vectors, `hidden` values each.
    pub fn state(&self, layer: usize, s: usize) -> (&[f32], &[f32]) {
        assert!(s < self.streams, "stream {s} of {}", self.streams);
        let rows = s * self.hidden..(s + 1) * self.hidden;
        (&self.h[layer][rows.clone()], &self.c[layer][rows])
    }

    /// Adds a stream with a zero state, after the others; returns its index.
    pub fn add_stream(&mut self) -> usize {
        self.resize_streams(self.streams + 1);
        self.streams - 1
    }

    /// Copies stream `from`'s state into stream `to`.
    pub fn copy_stream(&mut self, from: usize, to: usize) {
        assert!(
            from < self.streams && to < self.streams,
            "streams {from}, {to} of {}",
            self.streams
        );
        let n = self.hidden;
        for state in self.h.iter_mut().chain(&mut self.c) {
            state.copy_within(from * n..(from + 1) * n, to * n);
        }
    }

    /// Sets stream `s` back to a zero state.
    pub fn reset_stream(&mut self, s: usize) {
        assert!(s < self.streams, "stream {s} of {}", self.streams);
        let n = self.hidden;
        for state in self.h.iter_mut().chain(&mut self.c) {
            state[s * n..(s + 1) * n].fill(0.0);
        }
    }

    /// Removes the last stream. Panics when it is the only one.
    pub fn remove_last_stream(&mut self) {
        assert!(self.streams > 1, "the engine keeps at least one stream");
        self.resize_streams(self.streams - 1);
    }

    /// Sets `streams` streams, each starting from the current state of stream 0
    /// (e.g. after a shared prime).
    pub fn fork(&mut self, streams: usize) {
        assert!(streams > 0, "at least one stream");
        self.resize_streams(streams);
        for s in 1..streams {
            self.copy_stream(0, s);
        }
    }

    /// Feeds character `id` to the single stream and returns the logits of the
    /// next character. Panics if `id` is not below the vocabulary size or the
    /// engine has more than one stream.
    pub fn step(&mut self, id: u32) -> &[f32] {
        assert_eq!(self.streams, 1, "step drives one stream; use step_streams");
        self.step_streams(&[id])
    }

    /// Feeds `ids[s]` to stream `s` and returns the next-character logits,
    /// `[streams, vocab]` row-major. Panics if an id is out of range or
    /// `ids.len()` is not the number of streams.
    pub fn step_streams(&mut self, ids: &[u32]) -> &[f32] {
        self.advance(ids);
        self.exact_logits()
    }

    /// Calls `pick(item, logits)` for `items[s]` with stream `s`'s logits from
    /// the last step (`items` may be fewer than the streams). Many streams'
    /// calls are split across the engine's threads: a batch's draws, each a
    /// pass over its logits, would otherwise keep the other cores waiting.
    pub fn each_stream<T: Send>(&mut self, items: &mut [T], pick: impl Fn(&mut T, &[f32]) + Sync) {
        assert!(items.len() <= self.streams, "more items than streams");
        let rows = items
            .iter_mut()
            .zip(self.logits.chunks_exact(self.vocab_size));
        per_stream(&mut self.team, rows, |(item, row)| pick(item, row));
    }

    /// Every stream's logits from its top layer's hidden state, in full.
    fn exact_logits(&mut self) -> &[f32] {
        for row in self.logits.chunks_exact_mut(self.vocab_size) {
            row.copy_from_slice(&self.b_out);
        }
        let top = self.h.last().expect("a model has at least one layer");
        let packed = packed_for(&self.packed, self.streams).map(|p| &p.w_out);
        product(
            &mut self.team,
            &mut self.logits,
            top,
            (&self.w_out, packed),
            self.hidden,
        );
        &self.logits
    }

    /// Feeds character `id` to the single stream and returns next-character
    /// logits for top-`top_n` sampling: every character that can be among the
    /// `top_n` most likely holds its exact logit, every other `-inf`. A pass
    /// over bfloat16 weights bounds each logit first, so the output layer reads
    /// half the memory. Panics if `id` is out of range, `top_n` is 0 or the
    /// engine has more than one stream.
    pub fn step_top_n(&mut self, id: u32, top_n: usize) -> &[f32] {
        assert_eq!(self.streams, 1, "step_top_n drives one stream");
        assert!(top_n > 0, "top_n is at least 1");
        if top_n >= self.vocab_size {
            return self.step(id);
        }
        self.advance(&[id]);
        let h = self.h.last().expect("a model has at least one layer");
        let norm: f32 = h.iter().map(|x| x.abs()).sum();
        if !norm.is_finite() {
            // A diverged state: the bounds mean nothing, so no shortcut.
            return self.exact_logits();
        }
        let top = &mut self.top;
        self.logits.copy_from_slice(&self.b_out);
        self.team.vec_mat(&mut self.logits, h, &top.approx, true);
        let slack = |j: usize| norm * top.per_norm[j] + top.fixed[j];
        for (j, (lower, &l)) in top.lower.iter_mut().zip(&self.logits).enumerate() {
            *lower = l - slack(j);
        }
        // The top_n-th largest lower bound: a character whose upper bound is
        // below it has top_n characters surely above it.
        let (_, &mut threshold, _) = top
            .lower
            .select_nth_unstable_by(top_n - 1, |a, b| b.total_cmp(a));
        for (j, logit) in self.logits.iter_mut().enumerate() {
            *logit = if *logit + slack(j) >= threshold {
                // Summed as the full product sums column j: the same value.
                dot(
                    self.b_out[j],
                    h,
                    &top.exact[j * self.hidden..(j + 1) * self.hidden],
                )
            } else {
                f32::NEG_INFINITY
            };
        }
        &self.logits
    }

    /// Advances every stream by one character through the LSTM layers.
    fn advance(&mut self, ids: &[u32]) {
        assert_eq!(ids.len(), self.streams, "one id per stream");
        let (s, n, four) = (self.streams, self.hidden, 4 * self.hidden);
        for (row, &id) in self.z.chunks_exact_mut(four).zip(ids) {
            let id = id as usize;
            assert!(id < self.vocab_size, "character id {id} out of range");
            let input = &mut self.input_rows[id * four..(id + 1) * four];
            if !self.input_ready[id] {
                input.copy_from_slice(&self.bias0);
                let x = &self.embedding[id * self.embed_size..(id + 1) * self.embed_size];
                let w_ih0 = Mat::new(&self.w_ih0, self.embed_size, four);
                let x = Mat::new(x, 1, self.embed_size);
                matmul(input, x, w_ih0, Output::Accumulate);
                self.input_ready[id] = true;
            }
            row.copy_from_slice(input);
        }
        let packed = packed_for(&self.packed, s);
        let w_hh0 = (&self.w_hh0[..], packed.map(|p| &p.w_hh0));
        product(&mut self.team, &mut self.z, &self.h[0], w_hh0, n);
        apply_gates(
            &mut self.team,
            &mut self.z,
            &mut self.c[0],
            &mut self.h[0],
            n,
        );
        for (l, layer) in self.upper.iter().enumerate() {
            for ((xh, below), own) in self
                .xh
                .chunks_exact_mut(2 * n)
                .zip(self.h[l].chunks_exact(n))
                .zip(self.h[l + 1].chunks_exact(n))
            {
                xh[..n].copy_from_slice(below);
                xh[n..].copy_from_slice(own);
            }
            for row in self.z.chunks_exact_mut(four) {
                row.copy_from_slice(&layer.bias);
            }
            let w = (&layer.w[..], packed.map(|p| &p.upper[l]));
            product(&mut self.team, &mut self.z, &self.xh, w, 2 * n);
            apply_gates(
                &mut self.team,
                &mut self.z,
                &mut self.c[l + 1],
                &mut self.h[l + 1],
                n,
            );
        }
    }
}
