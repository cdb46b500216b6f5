//! A model whose vocabulary is as large as 金瓶梅's (CJK ideographs from
//! U+4E00), wider than one block of the CPU GEMM's columns (4080), and
//! engines whose thread teams have a given size: for the tests that the same
//! seed gives the same text whatever the batch or the threads (included with
//! `#[path]` by the sampler's and the server's tests).

use burn::backend::Flex;
use burn::tensor::backend::Backend;
use charrnn_corpus::Vocab;
use charrnn_model::{CharRnn, CharRnnConfig};
use charrnn_sample::Engine;

/// A model of `vocab_size` characters with `num_layers` layers of
/// `hidden_size`, and its vocabulary.
pub fn wide(vocab_size: usize, hidden_size: usize, num_layers: usize) -> (CharRnn<Flex>, Vocab) {
    let config = CharRnnConfig {
        vocab_size,
        embed_size: 16,
        hidden_size,
        num_layers,
        dropout: 0.0,
    };
    let device = Default::default();
    Flex::seed(&device, 21);
    let text: String = (0..vocab_size as u32)
        .map(|i| char::from_u32(0x4E00 + i).expect("a CJK ideograph"))
        .collect();
    (config.init::<Flex>(&device), Vocab::from_text(&text))
}

/// An engine whose thread team has `threads` members (the engine sizes its
/// team from rayon's pool).
pub fn engine_on(threads: usize, model: &CharRnn<Flex>) -> Engine {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(|| Engine::from_model(model))
}

/// Sample `i` of a batch of `options` drawn alone: with the seed `seed + i`,
/// the text every batch must give it.
pub fn drawn_alone(
    generator: &mut charrnn_sample::Generator,
    options: &charrnn_sample::SampleOptions,
    i: usize,
) -> String {
    let alone = charrnn_sample::SampleOptions {
        seed: options.seed + i as u64,
        ..options.clone()
    };
    generator
        .generate(&alone, |_| {})
        .expect("the options were checked")
}
