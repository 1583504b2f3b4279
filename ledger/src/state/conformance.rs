//! One suite run over every implementation of [`StateRead`]: given the same
//! writes, each must answer every point read, batched read and scan (by
//! prefix, from a cursor, stopped early) exactly as a plain ordered map
//! does. The stores that hold part of their state in memory over a base
//! (the overlay of a commit group, the layers of a pipelined writer, an
//! auditor's spilling state, a rebuild into RocksDB) are run with the
//! writes split between the two sides, so that a key written on both sides
//! is read from the newer.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use super::{Effects, Layered, MemState, Overlay, StateRead, StateStore, Table, Write};

/// The reference: one ordered map per table.
type Model = BTreeMap<(Table, Vec<u8>), Vec<u8>>;

/// Writes that reach the corners: keys that are prefixes of others, keys
/// holding the separator and `0xff` bytes, an empty value, overwrites, and
/// the same keys in two tables; then a few hundred seeded random ones. No
/// key is empty (see [`Write::key`]).
fn writes() -> Vec<Write> {
    let w = |table, key: &[u8], value: &[u8]| Write {
        table,
        key: key.to_vec(),
        value: value.to_vec(),
    };
    let mut out = vec![
        w(Table::Orgs, b"a", b"1"),
        w(Table::Orgs, b"ab", b"2"),
        w(Table::Orgs, b"a\x1fb", b"3"),
        w(Table::Orgs, b"\xff\xff", b"4"),
        w(
            Table::Index,
            b"org\x1fa\x1f\x00\x00\x00\x00\x00\x00\x00\x01",
            b"",
        ),
        w(
            Table::Index,
            b"org\x1fa\x1f\x00\x00\x00\x00\x00\x00\x01\x00",
            b"",
        ),
        w(
            Table::Index,
            b"org\x1fab\x1f\x00\x00\x00\x00\x00\x00\x00\x02",
            b"",
        ),
        w(Table::Funds, b"a", b"fund"),
        w(Table::Orgs, b"ab", b"2 again"),
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for i in 0..400u64 {
        let table = Table::ALL[next(Table::ALL.len() as u64) as usize];
        let key: Vec<u8> = (0..1 + next(4))
            .map(|_| b"ab\x1f\xff"[next(4) as usize])
            .collect();
        out.push(Write {
            table,
            key,
            value: i.to_be_bytes().to_vec(),
        });
    }
    out
}

fn model(writes: &[Write]) -> Model {
    writes
        .iter()
        .map(|w| ((w.table, w.key.clone()), w.value.clone()))
        .collect()
}

/// Every key the suite asks for: those written, and some never written.
fn probes(model: &Model) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = model.keys().map(|(_, k)| k.clone()).collect();
    keys.extend([
        b"zz".to_vec(),
        b"a\x1f".to_vec(),
        vec![0xff; 3],
        b"b".to_vec(),
    ]);
    keys.sort();
    keys.dedup();
    keys
}

/// Checks `state` against `model`, naming `name` in every failure.
fn conforms(name: &str, state: &dyn StateRead, model: &Model) {
    let keys = probes(model);
    for table in Table::ALL {
        let expected = |k: &[u8]| model.get(&(table, k.to_vec())).cloned();
        for k in &keys {
            let got = state.get(table, k).unwrap();
            assert_eq!(got, expected(k), "{name}: get {table:?} {k:?}");
            let mut with = None;
            state
                .get_with(table, k, &mut |v| with = Some(v.map(<[u8]>::to_vec)))
                .unwrap();
            assert_eq!(with, Some(expected(k)), "{name}: get_with {table:?} {k:?}");
        }
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let many = state.get_many(table, &refs).unwrap();
        let want: Vec<_> = keys.iter().map(|k| expected(k)).collect();
        assert_eq!(many, want, "{name}: get_many {table:?}");
        for prefix in [&b""[..], b"a", b"a\x1f", b"org\x1fa\x1f", b"\xff"] {
            for from in [
                &b""[..],
                b"a",
                b"ab",
                b"b",
                b"org\x1fa\x1f\x00\x00\x00\x00\x00\x00\x01",
            ] {
                let want: Vec<(Vec<u8>, Vec<u8>)> = model
                    .range((table, Vec::new())..)
                    .take_while(|((t, _), _)| *t == table)
                    .filter(|((_, k), _)| k.starts_with(prefix) && k.as_slice() >= from)
                    .map(|((_, k), v)| (k.clone(), v.clone()))
                    .collect();
                let mut got = Vec::new();
                state
                    .scan(table, prefix, from, &mut |k, v| {
                        got.push((k.to_vec(), v.to_vec()));
                        Ok(ControlFlow::Continue(()))
                    })
                    .unwrap();
                assert_eq!(got, want, "{name}: scan {table:?} {prefix:?} from {from:?}");
                let mut first = Vec::new();
                state
                    .scan(table, prefix, from, &mut |k, _| {
                        first.push(k.to_vec());
                        Ok(ControlFlow::Break(()))
                    })
                    .unwrap();
                let want_first: Vec<Vec<u8>> =
                    want.iter().take(1).map(|(k, _)| k.clone()).collect();
                assert_eq!(
                    first, want_first,
                    "{name}: scan stopped {table:?} {prefix:?}"
                );
            }
        }
    }
}

/// A base with the first `split` writes applied.
fn base(writes: &[Write], split: usize) -> MemState {
    let mut state = MemState::new();
    state.apply(&writes[..split]);
    state
}

#[test]
fn every_state_store_reads_as_an_ordered_map() {
    let writes = writes();
    let model = model(&writes);
    let half = writes.len() / 2;

    conforms("MemState", &base(&writes, writes.len()), &model);

    for split in [0, half, writes.len()] {
        let under = base(&writes, split);
        let mut overlay = Overlay::new(&under);
        // Reads cached before the writes above them must not hide them.
        overlay
            .prefetch(writes.iter().map(|w| (w.table, w.key.clone())).collect())
            .unwrap();
        overlay.apply(Effects {
            writes: writes[split..].to_vec(),
        });
        conforms(&format!("Overlay over {split}"), &overlay, &model);

        let empty = MemState::new();
        let mut layer = Overlay::new(&empty);
        layer.apply(Effects {
            writes: writes[split..].to_vec(),
        });
        let sorted = layer.into_writes();
        let layers: [&[Write]; 1] = [&sorted];
        conforms(
            &format!("Layered over {split}"),
            &Layered::new(&under, &layers),
            &model,
        );
    }

    #[cfg(feature = "spill")]
    for budget in [0, 4 << 10, 64 << 20] {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = crate::spill::SpillState::temporary(dir.path(), budget);
        for chunk in writes.chunks(37) {
            spill.apply(chunk).unwrap();
        }
        conforms(&format!("SpillState, budget {budget}"), &spill, &model);
    }
}

#[cfg(feature = "store")]
#[test]
fn the_rocksdb_state_and_its_rebuild_read_as_an_ordered_map() {
    use crate::store::{Rebuild, RocksBackend};
    let writes = writes();
    let model = model(&writes);
    let dir = tempfile::tempdir().unwrap();
    let backend = RocksBackend::open(dir.path()).unwrap();
    {
        // Half goes to RocksDB, the rest stays in the rebuild's memory.
        let mut rebuild = Rebuild::new(&backend, usize::MAX);
        rebuild.apply(&writes[..writes.len() / 2]).unwrap();
        rebuild.flush().unwrap();
        rebuild.apply(&writes[writes.len() / 2..]).unwrap();
        conforms("Rebuild", &rebuild, &model);
        rebuild.flush().unwrap();
    }
    conforms("RocksBackend", &backend, &model);
}
