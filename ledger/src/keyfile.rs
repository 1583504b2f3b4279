//! Secret files on disk: Ed25519 signing keys (the node's checkpoint key,
//! an organisation's entry key, a witness's) and the pseudonym service's
//! scalar.
//!
//! A key file is the 32-byte seed as 64 hex digits and a newline, created
//! with mode 0600. Like ssh, a secret file that group or others may read is
//! refused rather than used.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or creating it failed (the cause follows in the chain).
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// Group or others may read it.
    #[error("{path} is readable by group or others (mode {mode:o}); chmod 600 it")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a key file.
    #[error("{0} does not hold a key (64 hex digits)")]
    Malformed(PathBuf),
    /// A new key was asked for where a file already is.
    #[error("{0} already exists; a key file is never overwritten (choose another name)")]
    Exists(PathBuf),
    /// Empty file.
    #[error("{0} is empty")]
    Empty(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a new random key in a new file (mode 0600, synced); an existing
/// file is never overwritten.
pub fn create(path: &Path) -> Result<SigningKey, KeyFileError> {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    create_with(path, &seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes 32 secret bytes (a seed, a scalar) as hex to a new file (mode
/// 0600, synced); an existing file is never overwritten.
pub fn create_with(path: &Path, bytes: &[u8; 32]) -> Result<(), KeyFileError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists(path.to_path_buf()),
            _ => io(path)(e),
        })?;
    writeln!(f, "{}", hex::encode(bytes)).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// The pseudonym service's secret key file, in its directory.
pub const SERVICE_KEY: &str = "service.key";
/// Its public key beside it, 64 hex (not secret).
pub const SERVICE_PUB: &str = "service.pub";

/// Puts the pseudonym service's `key` in `dir` (created if missing): the
/// secret as a key file (never overwriting one) and the public key beside
/// it. Returns the public key's hex.
pub fn create_service_key(
    dir: &Path,
    key: &crate::oprf::ServiceKey,
) -> Result<String, KeyFileError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    create_with(&dir.join(SERVICE_KEY), &key.to_bytes())?;
    let public = key.public().to_hex();
    let path = dir.join(SERVICE_PUB);
    let mut f = std::fs::File::create(&path).map_err(io(&path))?;
    writeln!(f, "{public}").map_err(io(&path))?;
    f.sync_all().map_err(io(&path))?;
    Ok(public)
}

/// A private file's bytes less trailing white space; refused if group or
/// others may read it, or if it is empty.
fn read_private(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    let mode = std::fs::metadata(path)
        .map_err(io(path))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Exposed {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    let mut bytes = std::fs::read(path).map_err(io(path))?;
    while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err(KeyFileError::Empty(path.to_path_buf()));
    }
    Ok(bytes)
}

/// Reads a key file written by [`create`].
pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    read_bytes(path).map(|seed| SigningKey::from_bytes(&seed))
}

/// Reads the 32 bytes of a key file written by [`create_with`].
pub fn read_bytes(path: &Path) -> Result<[u8; 32], KeyFileError> {
    let text = read_private(path)?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim_ascii(), &mut bytes)
        .map_err(|_| KeyFileError::Malformed(path.to_path_buf()))?;
    Ok(bytes)
}

/// Reads the key file at `path`, creating it first if it does not exist.
pub fn read_or_create(path: &Path) -> Result<SigningKey, KeyFileError> {
    if path.exists() {
        read(path)
    } else {
        create(path)
    }
}
