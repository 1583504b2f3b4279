//! Structured mutation for fuzzing parsers with proptest: inputs that start
//! as valid seeds (an entry, a leaf, a checkpoint, a CSV file) and are
//! changed the ways that find parser bugs (bytes flipped, inserted, cut,
//! repeated, spliced from another seed, and tokens a parser must handle
//! with care dropped in), so that most cases get past the first check.
//! `FUZZ_CASES` sets the cases per target (the long form: 100,000).

use proptest::prelude::*;
use proptest::test_runner::Config;

/// Tokens that stress JSON, notes, paths and CSV.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\udc00\\ud800",
    "\u{0}",
    "1e999",
    "-0",
    "0.5",
    "18446744073709551616",
    "9007199254740992",
    "null",
    "true",
    "[]",
    "{}",
    "\n",
    "\r\n",
    "\u{2014}",
    "\u{FEFF}",
    "\u{200B}",
    " ",
    "\t",
    "/",
    "..",
    "%00",
    "%ff",
    "+",
    "=",
    "—",
    "１",
    "Ｘ",
    "11010519491231002X",
    "\u{10FFFF}",
    "\"\"",
    ",,",
    "x/../",
];

/// One change to an input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// XOR the byte at (a fraction of the length) with a non-zero mask.
    Flip(f64, u8),
    /// Insert raw bytes.
    Insert(f64, Vec<u8>),
    /// Insert one of [`TOKENS`].
    Token(f64, usize),
    /// Remove up to this many bytes.
    Cut(f64, usize),
    /// Repeat a stretch of up to this many bytes, this many times.
    Repeat(f64, usize, usize),
    /// Replace the tail with another seed's tail.
    Splice(f64, usize, f64),
}

fn at(len: usize, f: f64) -> usize {
    ((len as f64) * f) as usize % (len + 1)
}

impl Mutation {
    /// Applies the change to `input`, given every seed (for splices).
    pub fn apply(&self, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let len = input.len();
        match self {
            Mutation::Flip(f, mask) if len > 0 => {
                let i = at(len - 1, *f);
                input[i] ^= mask.max(&1);
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(f, bytes) => {
                let i = at(len, *f);
                input.splice(i..i, bytes.iter().copied());
            }
            Mutation::Token(f, t) => {
                let i = at(len, *f);
                input.splice(i..i, TOKENS[t % TOKENS.len()].bytes());
            }
            Mutation::Cut(f, n) => {
                let i = at(len, *f);
                let end = (i + n).min(len);
                input.drain(i..end);
            }
            Mutation::Repeat(f, n, times) => {
                let i = at(len, *f);
                let end = (i + n).min(len);
                let stretch = input[i..end].to_vec();
                for _ in 0..*times {
                    input.splice(end..end, stretch.iter().copied());
                }
            }
            Mutation::Splice(f, other, g) => {
                let other = &seeds[other % seeds.len()];
                let i = at(len, *f);
                let j = at(other.len(), *g);
                input.truncate(i);
                input.extend_from_slice(&other[j..]);
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let f = 0.0..1.0f64;
    prop_oneof![
        4 => (f.clone(), 1u8..).prop_map(|(f, m)| Mutation::Flip(f, m)),
        2 => (f.clone(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(f, b)| Mutation::Insert(f, b)),
        3 => (f.clone(), 0..TOKENS.len()).prop_map(|(f, t)| Mutation::Token(f, t)),
        2 => (f.clone(), 1usize..64).prop_map(|(f, n)| Mutation::Cut(f, n)),
        1 => (f.clone(), 1usize..32, 1usize..64).prop_map(|(f, n, t)| Mutation::Repeat(f, n, t)),
        1 => (f.clone(), any::<usize>(), f).prop_map(|(f, o, g)| Mutation::Splice(f, o, g)),
    ]
}

/// Seeds changed by one to eight mutations (and, one case in sixteen,
/// left as they are).
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty());
    let n = seeds.len();
    (0..n, proptest::collection::vec(mutation(), 0..8), 0u8..16).prop_map(
        move |(i, changes, keep)| {
            let mut input = seeds[i].clone();
            if keep > 0 {
                for m in &changes {
                    m.apply(&mut input, &seeds);
                }
            }
            input
        },
    )
}

/// proptest's configuration for a fuzz target: `FUZZ_CASES` cases
/// (default `default`), no shrinking past a minute.
pub fn config(default: u32) -> Config {
    Config {
        cases: crate::env_number("FUZZ_CASES", default),
        max_shrink_time: 60_000,
        failure_persistence: None,
        ..Config::default()
    }
}
