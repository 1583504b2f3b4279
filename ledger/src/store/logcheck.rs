//! A check of RocksDB's own log files (the MANIFEST that `CURRENT` names,
//! and the WALs) before RocksDB reads them.
//!
//! RocksDB's log reader loops forever on one kind of damage: a record
//! header, after the first record of a file that is not a recycled log,
//! whose type byte says "recyclable" (5-8, 11, 131). It refuses the record
//! without consuming it and reads the same header again, so the open never
//! returns (found by `ledger/tests/corruption.rs`: one flipped byte in a
//! MANIFEST hung the node's start). Such a file is refused before RocksDB
//! sees it. A MANIFEST is never recycled, so there a recyclable type is
//! damage wherever it appears; a WAL whose first record is recyclable is a
//! recycled log (older builds recycled WAL files), which the reader reads
//! as such, and is left to it.
//!
//! The walk follows the reader's: the file in blocks of 32 KiB, in each
//! block the headers one after another (4 bytes checksum, 2 bytes length,
//! 1 byte type), skipping the rest of a block after a header whose record
//! would run past it or that is zero padding. It does not check the
//! checksums (RocksDB does): after a damaged record it keeps following the
//! lengths where the reader would drop the rest of the block, so it looks
//! at every header the reader could parse, and more. A file written by
//! RocksDB without recycling never has a recyclable type at any of them.

use std::path::Path;

use super::StoreError;

/// RocksDB's log block size (`log::kBlockSize`).
const BLOCK: usize = 32 * 1024;

/// A record header: checksum, length, type (`log::kHeaderSize`).
const HEADER: usize = 7;

/// The record types of recycled logs (`log::RecordType`).
const RECYCLABLE: [u8; 6] = [5, 6, 7, 8, 11, 131];

/// Checks the MANIFEST named by `dir/CURRENT` and every WAL in `dir`.
/// A store not created yet (no `CURRENT`) passes.
pub fn check_logs(dir: &Path) -> Result<(), StoreError> {
    let current = match std::fs::read_to_string(dir.join("CURRENT")) {
        Ok(name) => name,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::Io(format!("reading CURRENT: {e}"))),
    };
    let manifest = current.trim_end().to_owned();
    let mut files = vec![manifest.clone()];
    let entries = std::fs::read_dir(dir)
        .map_err(|e| StoreError::Io(format!("listing {}: {e}", dir.display())))?;
    for entry in entries {
        let name = entry
            .map_err(|e| StoreError::Io(format!("listing {}: {e}", dir.display())))?
            .file_name();
        if let Some(name) = name.to_str().filter(|n| n.ends_with(".log")) {
            files.push(name.to_owned());
        }
    }
    for name in files {
        let path = dir.join(&name);
        let bytes = std::fs::read(&path)
            .map_err(|e| StoreError::Io(format!("reading {}: {e}", path.display())))?;
        let found = recyclable_header(&bytes).filter(|&at| at > 0 || name == manifest);
        if let Some(at) = found {
            return Err(StoreError::Corrupt(format!(
                "{name} is damaged: the record header at byte {at} has type {} (a recycled log's, \
                 and this store recycles none); restore the store from a replica or a backup",
                bytes[at + HEADER - 1]
            )));
        }
    }
    Ok(())
}

/// Where the first header with a recyclable type is, if any (0: the file
/// is a recycled log, or damaged at its first byte).
fn recyclable_header(bytes: &[u8]) -> Option<usize> {
    for (b, block) in bytes.chunks(BLOCK).enumerate() {
        let mut pos = 0;
        while block.len() - pos >= HEADER {
            let length = usize::from(u16::from_le_bytes([block[pos + 4], block[pos + 5]]));
            let kind = block[pos + 6];
            if RECYCLABLE.contains(&kind) {
                return Some(b * BLOCK + pos);
            }
            if kind == 0 && length == 0 {
                break; // zeros: preallocated, the reader skips the block
            }
            pos += HEADER + length;
            if pos > block.len() {
                break;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record header and its payload (checksum left zero: not checked).
    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut r = vec![0; 4];
        r.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        r.push(kind);
        r.extend_from_slice(payload);
        r
    }

    #[test]
    fn recyclable_types_are_found_where_the_reader_would_parse_them() {
        let mut file = record(1, &[9; 100]);
        file.extend(record(2, &[9; 50]));
        file.extend(record(4, &[9; 20]));
        assert_eq!(recyclable_header(&file), None);
        for kind in RECYCLABLE {
            let mut bad = file.clone();
            bad[HEADER + 100 + HEADER - 1] = kind;
            assert_eq!(recyclable_header(&bad), Some(HEADER + 100), "type {kind}");
        }
        // In the next block, after a block's zero trailer.
        let mut two = record(1, &[9; BLOCK - HEADER - 3]);
        two.extend([0; 3]);
        two.extend(record(7, &[9; 10]));
        assert_eq!(recyclable_header(&two), Some(BLOCK));
        // Bytes no header covers may hold anything.
        let mut payload = record(1, &[7; 40]);
        payload.extend(record(0, &[]));
        payload.extend([7; 40]);
        assert_eq!(recyclable_header(&payload), None);
    }
}
