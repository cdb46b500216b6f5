//! The plain-Rust engine must produce the logits the burn model produces.

use burn::backend::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use charrnn_corpus::Vocab;
use charrnn_model::{CharRnnConfig, ModelState};
use charrnn_sample::{Engine, Generator, SampleError, SampleOptions};

#[path = "support/wide_model.rs"]
mod wide_model;
use wide_model::{drawn_alone, engine_on, wide};

fn config() -> CharRnnConfig {
    CharRnnConfig {
        vocab_size: 11,
        embed_size: 6,
        hidden_size: 8,
        num_layers: 2,
        dropout: 0.5,
    }
}

#[test]
fn engine_logits_equal_model_logits() {
    let device = Default::default();
    Flex::seed(&device, 5);
    let model = config().init::<Flex>(&device);
    let ids: Vec<u32> = vec![3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    let input = Tensor::<Flex, 2, Int>::from_data(
        TensorData::new(
            ids.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [1, ids.len()],
        ),
        &device,
    );
    let (logits, _) = model.forward(input, ModelState::zeros(&config(), 1, &device));
    let expected = logits.into_data().to_vec::<f32>().unwrap();

    let mut engine = Engine::from_model(&model);
    for (t, &id) in ids.iter().enumerate() {
        let got = engine.step(id);
        for (v, (&g, &e)) in got.iter().zip(&expected[t * 11..(t + 1) * 11]).enumerate() {
            assert!((g - e).abs() < 1e-4, "step {t}, class {v}: {g} vs {e}");
        }
    }
}

#[test]
fn generation_is_seeded_and_checks_options() {
    let device = Default::default();
    let model = config().init::<Flex>(&device);
    let vocab = Vocab::from_text("abcdefghij\n");
    let mut generator = Generator::new(Engine::from_model(&model), vocab).unwrap();
    let options = SampleOptions {
        prime: "abc".into(),
        length: 50,
        ..SampleOptions::default()
    };
    let mut streamed = String::new();
    let a = generator.generate(&options, |c| streamed.push(c)).unwrap();
    let b = generator.generate(&options, |_| {}).unwrap();
    assert_eq!(a.chars().count(), 50);
    assert_eq!(a, streamed);
    assert_eq!(a, b, "same seed, same text");

    // stop_at ends the sample as soon as the text ends with it.
    let first: String = a.chars().take(3).collect();
    let stopped = generator
        .generate(
            &SampleOptions {
                stop_at: first.clone(),
                ..options.clone()
            },
            |_| {},
        )
        .unwrap();
    assert_eq!(stopped, first);

    let bad_key = |o: SampleOptions| match generator.check(&o).unwrap_err() {
        SampleError::Invalid(e) => e.key,
        other => panic!("expected an invalid option, got {other}"),
    };
    for (key, options) in [
        (
            "top_p",
            SampleOptions {
                top_p: 0.0,
                ..options.clone()
            },
        ),
        (
            "top_p",
            SampleOptions {
                top_p: 1.5,
                ..options.clone()
            },
        ),
        (
            "length",
            SampleOptions {
                length: 0,
                ..options.clone()
            },
        ),
        (
            "top_n",
            SampleOptions {
                top_n: 12,
                ..options.clone()
            },
        ),
        (
            "top_n",
            SampleOptions {
                top_n: 0,
                ..options.clone()
            },
        ),
        (
            "temperature",
            SampleOptions {
                temperature: f64::NAN,
                ..options.clone()
            },
        ),
        (
            "prime",
            SampleOptions {
                prime: String::new(),
                ..options.clone()
            },
        ),
    ] {
        assert_eq!(bad_key(options), key);
    }
    assert!(matches!(
        generator.check(&SampleOptions {
            prime: "abz".into(),
            ..options
        }),
        Err(SampleError::UnknownPrimeChar(_))
    ));
}

/// Few streams read the weights as they are; from four on, packed for the
/// GEMM kernel; from eight on, their gates are split across threads: all
/// agree with the model's batch.
#[test]
fn streams_advance_independently_like_a_batch() {
    for streams in [3, 8, 13] {
        let device = Default::default();
        Flex::seed(&device, 9);
        let model = config().init::<Flex>(&device);
        let rows: Vec<[u32; 6]> = (0..streams as u32)
            .map(|s| std::array::from_fn(|t| (s * 7 + t as u32 * (s + 3)) % 11))
            .collect();
        let flat: Vec<i64> = rows.iter().flatten().map(|&i| i as i64).collect();
        let input = Tensor::<Flex, 2, Int>::from_data(TensorData::new(flat, [streams, 6]), &device);
        let (logits, _) = model.forward(input, ModelState::zeros(&config(), streams, &device));
        // The model's logits are time-major: row t * batch + b.
        let expected = logits.into_data().to_vec::<f32>().unwrap();
        let per_step = streams * 11;

        let mut engine = Engine::from_model(&model);
        engine.set_streams(streams);
        for t in 0..6 {
            let ids: Vec<u32> = rows.iter().map(|r| r[t]).collect();
            let got = engine.step_streams(&ids).to_vec();
            let want = &expected[t * per_step..(t + 1) * per_step];
            for (i, (&g, &e)) in got.iter().zip(want).enumerate() {
                assert!(
                    (g - e).abs() < 1e-4,
                    "{streams} streams, step {t}, stream {}, class {}: {g} vs {e}",
                    i / 11,
                    i % 11
                );
            }
        }
    }
}

/// Also from eight samples on, where the draws are split across threads.
#[test]
fn batched_samples_equal_samples_drawn_one_at_a_time() {
    let device = Default::default();
    Flex::seed(&device, 3);
    let model = config().init::<Flex>(&device);
    let vocab = Vocab::from_text("abcdefghij\n");
    let mut generator = Generator::new(Engine::from_model(&model), vocab).unwrap();
    let options = SampleOptions {
        prime: "abc".into(),
        length: 80,
        top_n: 4,
        stop_at: "j".into(),
        ..SampleOptions::default()
    };
    for count in [5, 12] {
        let mut streamed = vec![String::new(); count];
        let batch = generator
            .generate_many(&options, count, |i, c| streamed[i].push(c))
            .unwrap();
        assert_eq!(batch, streamed);
        for (i, text) in batch.iter().enumerate() {
            let alone = drawn_alone(&mut generator, &options, i);
            assert_eq!(text, &alone, "sample {i} of {count}");
        }
        let distinct: std::collections::HashSet<&String> = batch.iter().collect();
        assert!(
            distinct.len() > 1,
            "different seeds, different samples: {batch:?}"
        );
    }
}

#[test]
fn top_n_steps_give_the_exact_top_n_logits_and_skip_the_rest() {
    let config = CharRnnConfig {
        vocab_size: 500,
        embed_size: 16,
        hidden_size: 64,
        num_layers: 2,
        dropout: 0.0,
    };
    let device = Default::default();
    Flex::seed(&device, 11);
    let model = config.init::<Flex>(&device);
    let mut exact = Engine::from_model(&model);
    // One engine per top_n: a step advances the state.
    let mut fast: Vec<(usize, Engine)> = [1, 5, 40]
        .into_iter()
        .map(|n| (n, Engine::from_model(&model)))
        .collect();
    let mut exact_logits = 0;
    for t in 0..30u32 {
        let id = t * 37 % 500;
        let want = exact.step(id).to_vec();
        let mut order: Vec<usize> = (0..want.len()).collect();
        order.sort_by(|&a, &b| want[b].total_cmp(&want[a]));
        for (top_n, engine) in &mut fast {
            let got = engine.step_top_n(id, *top_n);
            for &j in &order[..*top_n] {
                assert!(
                    (got[j] - want[j]).abs() < 1e-5,
                    "step {t}, top {top_n}: character {j} is {} not {}",
                    got[j],
                    want[j]
                );
            }
            for (j, &g) in got.iter().enumerate() {
                assert!(
                    g == f32::NEG_INFINITY || (g - want[j]).abs() < 1e-5,
                    "step {t}, top {top_n}: character {j} is {g} not {}",
                    want[j]
                );
            }
            if *top_n == 5 {
                exact_logits += got.iter().filter(|g| g.is_finite()).count();
            }
        }
    }
    // The bounds must leave most characters out, or nothing is saved.
    assert!(
        exact_logits < 30 * 500 / 4,
        "{exact_logits} exact logits in 30 top-5 steps of 500"
    );
}

#[test]
fn kernels_at_every_simd_level() {
    charrnn_cpu::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}

/// A stream's logits are the same bits whatever runs beside it and however
/// many threads share the work: gates wider than one block of columns
/// (4 × 1030 > 4080) and an output layer as wide as 金瓶梅's vocabulary.
#[test]
fn a_streams_logits_do_not_depend_on_other_streams_or_threads() {
    for (vocab, hidden, layers) in [(97, 1030, 1), (4400, 48, 2)] {
        let (model, _) = wide(vocab, hidden, layers);
        let ids = |t: u32, s: u32| (t * 31 + s * 17) % vocab as u32;
        let mut alone = engine_on(1, &model);
        let want: Vec<Vec<f32>> = (0..3).map(|t| alone.step(ids(t, 0)).to_vec()).collect();
        for threads in [1, 2] {
            let mut top = engine_on(threads, &model);
            for (t, want) in want.iter().enumerate() {
                let got = top.step_top_n(ids(t as u32, 0), 5);
                for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
                    assert!(
                        g == f32::NEG_INFINITY || g.to_bits() == w.to_bits(),
                        "{vocab}/{hidden}: top-n step {t} on {threads} threads, character {j}: {g} vs {w}"
                    );
                }
            }
            for streams in [2, 3, 9] {
                let mut engine = engine_on(threads, &model);
                engine.set_streams(streams);
                for (t, want) in want.iter().enumerate() {
                    let step: Vec<u32> = (0..streams as u32).map(|s| ids(t as u32, s)).collect();
                    let got = &engine.step_streams(&step)[..vocab];
                    let differ = got
                        .iter()
                        .zip(want)
                        .position(|(g, w)| g.to_bits() != w.to_bits());
                    assert_eq!(
                        differ, None,
                        "{vocab}/{hidden}: stream 0 of {streams} on {threads} threads, step {t}"
                    );
                }
            }
        }
    }
}

/// `charrnn sample --seed S --num-samples N` writes the same text on one CPU
/// and on two, and sample i of a batch is the sample drawn alone with seed
/// S + i, with 金瓶梅's vocabulary size.
#[test]
fn samples_are_the_same_on_one_thread_and_on_two() {
    let (model, vocab) = wide(4400, 48, 2);
    let options = SampleOptions {
        prime: "一丁七".into(),
        length: 150,
        top_n: 5,
        seed: 7,
        ..SampleOptions::default()
    };
    let texts = |threads: usize, count: usize| {
        Generator::new(engine_on(threads, &model), vocab.clone())
            .unwrap()
            .generate_many(&options, count, |_, _| {})
            .unwrap()
    };
    let alone: Vec<String> = (0..9)
        .map(|i| {
            let mut generator = Generator::new(engine_on(1, &model), vocab.clone()).unwrap();
            let seed = options.seed + i;
            generator
                .generate(
                    &SampleOptions {
                        seed,
                        ..options.clone()
                    },
                    |_| {},
                )
                .unwrap()
        })
        .collect();
    assert!(alone.iter().collect::<std::collections::HashSet<_>>().len() > 1);
    for count in [1, 4, 9] {
        for threads in [1, 2] {
            assert_eq!(
                texts(threads, count),
                alone[..count],
                "{count} samples on {threads} threads"
            );
        }
    }
}
