//! Checkpoint images: the catalog and raft's applied state written to `image.<journal id>`.
//!
//! File format (one file per checkpoint, in `<meta_dir>/image/`):
//!
//! ```text
//! tessera-image v1 len=<body bytes> crc32=<hex>\n
//! <body: JSON of ImageBody>
//! ```
//!
//! A file is written as `image.ckpt`, fsynced, then renamed, so a crash never leaves a
//! half-written `image.N`. On load the length and CRC are checked: a torn or corrupt image is
//! reported and never used as state.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use common::Error;
use common::Result;
use common::StatusCode;
use serde::Deserialize;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::types::LogId;
use crate::types::StoredMembership;

const MAGIC: &str = "tessera-image v1";

/// What an image holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageBody {
    /// The last journal entry the image includes.
    pub last_applied: Option<LogId>,
    /// The membership (the frontend list) at that point.
    pub membership: StoredMembership,
    /// The catalog.
    pub catalog: Catalog,
}

/// Encodes an image into its file bytes.
pub fn encode(body: &ImageBody) -> Result<Vec<u8>> {
    let json =
        serde_json::to_vec(body).map_err(|e| Error::internal(format!("encode image: {e}")))?;
    let mut out = format!(
        "{MAGIC} len={} crc32={:08x}\n",
        json.len(),
        crc32fast::hash(&json)
    )
    .into_bytes();
    out.extend_from_slice(&json);
    Ok(out)
}

/// Decodes file bytes, checking length and checksum.
pub fn decode(bytes: &[u8], what: &str) -> Result<ImageBody> {
    let bad = |why: String| {
        Error::new(
            StatusCode::MetaCorrupted,
            format!("checkpoint image {what} is corrupt: {why}"),
        )
    };
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| bad("no header line".into()))?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| bad("header is not text".into()))?;
    let rest = header
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad(format!("unknown header '{header}'")))?;
    let mut len = None;
    let mut crc = None;
    for part in rest.split_whitespace() {
        if let Some(v) = part.strip_prefix("len=") {
            len = v.parse::<usize>().ok();
        } else if let Some(v) = part.strip_prefix("crc32=") {
            crc = u32::from_str_radix(v, 16).ok();
        }
    }
    let (len, crc) = match (len, crc) {
        (Some(l), Some(c)) => (l, c),
        _ => return Err(bad(format!("malformed header '{header}'"))),
    };
    let body = &bytes[nl + 1..];
    if body.len() != len {
        return Err(bad(format!(
            "expected {len} bytes after the header, found {} (torn write?)",
            body.len()
        )));
    }
    if crc32fast::hash(body) != crc {
        return Err(bad("checksum mismatch".into()));
    }
    serde_json::from_slice(body).map_err(|e| bad(format!("cannot decode: {e}")))
}

/// The path of `image.<index>`.
pub fn image_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("image.{index}"))
}

/// Lists `image.<N>` files, newest first.
pub fn list_images(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
    };
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix("image.")
            .and_then(|n| n.parse::<u64>().ok())
        {
            out.push((n, entry.path()));
        }
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.0));
    Ok(out)
}

/// Writes bytes as `image.<index>` atomically and removes older images.
pub fn write_image(dir: &Path, index: u64, bytes: &[u8]) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let tmp = dir.join("image.ckpt");
    {
        let mut f = fs::File::create(&tmp)
            .map_err(|e| Error::io(format!("create {}", tmp.display()), e))?;
        f.write_all(bytes)
            .map_err(|e| Error::io(format!("write {}", tmp.display()), e))?;
        f.sync_all()
            .map_err(|e| Error::io(format!("sync {}", tmp.display()), e))?;
    }
    let path = image_path(dir, index);
    fs::rename(&tmp, &path).map_err(|e| Error::io(format!("rename to {}", path.display()), e))?;
    if let Ok(d) = fs::File::open(dir) {
        // Makes the rename durable.
        let _ = d.sync_all();
    }
    for (n, old) in list_images(dir)? {
        if n != index
            && let Err(e) = fs::remove_file(&old)
        {
            tracing::warn!(path = %old.display(), %e, "could not remove an old checkpoint image");
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> ImageBody {
        ImageBody {
            last_applied: None,
            membership: StoredMembership::default(),
            catalog: Catalog::default(),
        }
    }

    #[test]
    fn round_trip_and_corruption_detected() {
        let bytes = encode(&body()).expect("encodes");
        let back = decode(&bytes, "t").expect("decodes");
        assert_eq!(back.catalog, Catalog::default());
        // Flip a byte in the body.
        let mut flipped = bytes.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x01;
        let err = decode(&flipped, "t").expect_err("corrupt");
        assert_eq!(err.code, StatusCode::MetaCorrupted);
        // Torn: cut the tail.
        let err = decode(&bytes[..bytes.len() - 5], "t").expect_err("torn");
        assert!(err.message.contains("torn"), "{}", err.message);
        assert!(decode(b"garbage", "t").is_err());
        assert!(decode(b"", "t").is_err());
    }

    #[test]
    fn write_keeps_only_newest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = encode(&body()).expect("encodes");
        write_image(dir.path(), 5, &bytes).expect("write");
        write_image(dir.path(), 9, &bytes).expect("write");
        let list = list_images(dir.path()).expect("list");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].0, 9);
    }
}
