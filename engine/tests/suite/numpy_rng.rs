//! `NumpyRng` against `data/reference/numpy_random_vectors.json`: outputs of NumPy 2.4's legacy
//! global generator for several seeds. Every double is compared bit for bit (tolerance zero):
//! the generator claims to be NumPy's stream, and the course's numbers depend on it exactly.

use engine::random::{NumpyRng, Sampler};
use engine::Tensor;
use rand::RngCore;
use serde_json::Value;

fn reference() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/reference/numpy_random_vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("reference vectors are part of the repository");
    let value: Value = serde_json::from_str(&text).expect("reference vectors are valid JSON");
    let cases = value.as_array().expect("a list of per-seed cases").clone();
    assert!(
        cases.len() >= 7,
        "expected the 7 seeds of the reference file"
    );
    cases
}

fn seed_of(case: &Value) -> u32 {
    u32::try_from(case["seed"].as_u64().expect("seed")).expect("seed fits u32")
}

fn floats(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a number")],
        other => panic!("unexpected JSON value {other}"),
    }
}

fn assert_bits_equal(what: &str, seed: u32, got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{what}, seed {seed}: length");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(
            g.to_bits(),
            e.to_bits(),
            "{what}, seed {seed}, element {i}: got {g:e}, NumPy gives {e:e}"
        );
    }
}

#[test]
fn rand_matches_numpy_bit_for_bit() {
    for case in reference() {
        let seed = seed_of(&case);
        let expected = floats(&case["rand7"]);
        let got = NumpyRng::new(seed).rand::<f64>(&[7]).to_vec();
        assert_bits_equal("rand(7)", seed, &got, &expected);
    }
}

#[test]
fn randn_matches_numpy_bit_for_bit() {
    for case in reference() {
        let seed = seed_of(&case);
        let got = NumpyRng::new(seed).randn::<f64>(&[7]).to_vec();
        assert_bits_equal("randn(7)", seed, &got, &floats(&case["randn7"]));

        let t: Tensor<f64> = NumpyRng::new(seed).randn(&[2, 3]);
        assert_eq!(t.shape(), &[2, 3]);
        assert_bits_equal(
            "randn(2, 3)",
            seed,
            &t.to_vec(),
            &floats(&case["randn_2x3"]),
        );
    }
}

#[test]
fn normal_matches_numpy_bit_for_bit() {
    for case in reference() {
        let seed = seed_of(&case);
        let t: Tensor<f64> = NumpyRng::new(seed).normal(0.0, 0.05, &[4, 2]);
        assert_eq!(t.shape(), &[4, 2]);
        assert_bits_equal(
            "normal(scale=0.05, size=(4, 2))",
            seed,
            &t.to_vec(),
            &floats(&case["normal_scale_0.05_4x2"]),
        );
    }
}

/// `rand(), randn(), rand(), randn(), randn()`: the cached second normal must survive the
/// uniform draw between the two `randn` calls, as in NumPy.
#[test]
fn interleaved_draws_keep_the_cached_normal() {
    for case in reference() {
        let seed = seed_of(&case);
        let mut rng = NumpyRng::new(seed);
        let got = [
            rng.random_f64(),
            rng.standard_normal(),
            rng.random_f64(),
            rng.standard_normal(),
            rng.standard_normal(),
        ];
        assert_bits_equal(
            "rand, randn, rand, randn, randn",
            seed,
            &got,
            &floats(&case["rand_randn_rand_randn_randn"]),
        );
    }
}

#[test]
fn permutations_match_numpy_in_sequence() {
    for case in reference() {
        let seed = seed_of(&case);
        let calls = &case["permutation_sequential_calls"];
        let mut rng = NumpyRng::new(seed);
        for n in [1usize, 2, 5, 64, 300] {
            let expected: Vec<usize> = calls[n.to_string()]
                .as_array()
                .expect("a permutation")
                .iter()
                .map(|v| v.as_u64().expect("an index") as usize)
                .collect();
            assert_eq!(
                rng.permutation(n),
                expected,
                "permutation({n}), seed {seed}, drawn after the smaller ones"
            );
        }
        // The trait method must be NumPy's algorithm too (mini-batch shuffling goes through it).
        let mut via_trait = NumpyRng::new(seed);
        let first_five: Vec<usize> = [1usize, 2, 5]
            .iter()
            .flat_map(|&n| Sampler::permutation(&mut via_trait, n))
            .collect();
        let mut direct = NumpyRng::new(seed);
        let expected: Vec<usize> = [1usize, 2, 5]
            .iter()
            .flat_map(|&n| direct.permutation(n))
            .collect();
        assert_eq!(first_five, expected);
    }
}

#[test]
fn shuffle_of_any_slice_moves_items_like_permutation() {
    let mut labels: Vec<char> = "abcdefghij".chars().collect();
    NumpyRng::new(3).shuffle(&mut labels);
    let order = NumpyRng::new(3).permutation(10);
    let expected: Vec<char> = order.iter().map(|&i| (b'a' + i as u8) as char).collect();
    assert_eq!(labels, expected);
}

#[test]
fn seed_resets_the_stream_and_drops_the_cached_normal() {
    let case = &reference()[0];
    let seed = seed_of(case);
    let mut rng = NumpyRng::new(seed + 1);
    // Leave a cached normal behind: one randn draws a pair and keeps the second.
    rng.standard_normal();
    rng.seed(seed);
    let got = rng.randn::<f64>(&[7]).to_vec();
    assert_bits_equal(
        "randn(7) after reseeding",
        seed,
        &got,
        &floats(&case["randn7"]),
    );
}

#[test]
fn f32_tensors_are_the_f64_draws_rounded() {
    let wide = NumpyRng::new(1).randn::<f64>(&[3, 4]).to_vec();
    let narrow = NumpyRng::new(1).randn::<f32>(&[3, 4]).to_vec();
    let rounded: Vec<f32> = wide.iter().map(|&x| x as f32).collect();
    assert_eq!(narrow, rounded);
}

/// The `rand::RngCore` view: next_u64 is two 32-bit outputs high word first, as NumPy's
/// MT19937 `next_uint64`; fill_bytes gives what `np.random.bytes` gives.
#[test]
fn rng_core_exposes_the_raw_stream() {
    let mut words = NumpyRng::new(5);
    let a = words.next_u32();
    let b = words.next_u32();
    let mut pairs = NumpyRng::new(5);
    assert_eq!(pairs.next_u64(), (u64::from(a) << 32) | u64::from(b));

    // np.random.seed(5); list(np.random.bytes(6)) with NumPy 2.4.6.
    let mut bytes = [0u8; 6];
    NumpyRng::new(5).fill_bytes(&mut bytes);
    assert_eq!(bytes, [99, 139, 212, 56, 206, 72]);
    let mut expect = a.to_le_bytes().to_vec();
    expect.extend_from_slice(&b.to_le_bytes()[..2]);
    assert_eq!(bytes.to_vec(), expect);

    // NumPy's first double for seed 0 uses the first two words: check they are the same words.
    let mut raw = NumpyRng::new(0);
    let (w0, w1) = (raw.next_u32(), raw.next_u32());
    let double = (f64::from(w0 >> 5) * 67_108_864.0 + f64::from(w1 >> 6)) / 9_007_199_254_740_992.0;
    let first_rand7 = floats(&reference()[0]["rand7"])[0];
    assert_eq!(seed_of(&reference()[0]), 0);
    assert_eq!(double.to_bits(), first_rand7.to_bits());
}

#[test]
fn random_interval_stays_in_range_on_both_paths() {
    let mut rng = NumpyRng::new(7);
    for max in [
        1u64,
        2,
        3,
        7,
        8,
        299,
        u64::from(u32::MAX),
        1 << 40,
        u64::MAX,
    ] {
        let draws: Vec<u64> = (0..200).map(|_| rng.random_interval(max)).collect();
        assert!(draws.iter().all(|&v| v <= max), "random_interval({max})");
        if max >= 3 {
            assert!(
                draws.windows(2).any(|w| w[0] != w[1]),
                "random_interval({max}) is constant"
            );
        }
    }
    assert_eq!(rng.random_interval(0), 0);
}
