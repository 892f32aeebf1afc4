//! `<meta_dir>/image/VERSION` and `<meta_dir>/image/ROLE`: who this frontend is.
//!
//! As in StarRocks, VERSION holds the cluster id and token, ROLE the node's role and name (we
//! add the raft node id). Both exist after the first successful start, or neither does; one
//! without the other, or a file that does not parse, refuses the start with what to do.
//!
//! Each file ends with a `#crc32=<hex>` comment line: the CRC32 of every byte before it. A
//! flipped digit of the cluster id would otherwise still parse; a mismatch refuses the start.
//! Files written before the line existed have none and are read unchecked.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use common::Error;
use common::Result;
use common::StatusCode;

use crate::types::FrontendRole;
use crate::types::NodeId;

/// Contents of VERSION.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionFile {
    /// The cluster id.
    pub cluster_id: i32,
    /// The cluster token.
    pub token: String,
}

/// Contents of ROLE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleFile {
    /// FOLLOWER or OBSERVER.
    pub role: FrontendRole,
    /// The node name.
    pub name: String,
    /// The raft node id.
    pub node_id: NodeId,
}

fn version_path(meta_dir: &Path) -> PathBuf {
    meta_dir.join("image").join("VERSION")
}

fn role_path(meta_dir: &Path) -> PathBuf {
    meta_dir.join("image").join("ROLE")
}

/// What the operator does about a damaged file in `meta_dir` (appended to every such refusal).
pub fn recovery_instructions(meta_dir: &Path) -> String {
    format!(
        "This frontend refuses to start rather than serve damaged metadata. If it is a follower \
         or an observer of a cluster whose other frontends are alive: move its meta_dir {} away \
         (keep it for analysis); on the leader run ALTER SYSTEM DROP FOLLOWER \
         \"<host>:<edit_log_port>\" (DROP OBSERVER for an observer) and ALTER SYSTEM ADD \
         FOLLOWER (or ADD OBSERVER) \"<host>:<edit_log_port>\" for this frontend; then start it \
         again with --helper <host>:<edit_log_port> of a live frontend: it joins as a new \
         member and copies the metadata (image and journal) from the cluster. If no other \
         frontend holds the metadata (a single-frontend cluster), restore meta_dir from a \
         backup instead",
        meta_dir.display()
    )
}

fn corrupt(path: &Path, why: &str) -> Error {
    let meta_dir = path.parent().and_then(Path::parent).unwrap_or(path);
    Error::new(
        StatusCode::MetaCorrupted,
        format!(
            "{} is damaged ({why}). {}",
            path.display(),
            recovery_instructions(meta_dir)
        ),
    )
}

/// The comment line that ends a file: the CRC32 of everything before it.
const CRC_PREFIX: &str = "#crc32=";

/// `text` with its checksum line appended.
fn with_checksum(text: &str) -> String {
    format!(
        "{text}{CRC_PREFIX}{:08x}\n",
        crc32fast::hash(text.as_bytes())
    )
}

/// Checks the last line's checksum if there is one.
fn check_checksum(path: &Path, text: &str) -> Result<()> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let (before, last) = match body.rfind('\n') {
        Some(i) => (&text[..=i], &body[i + 1..]),
        None => ("", body),
    };
    let Some(hex) = last.strip_prefix(CRC_PREFIX) else {
        // Written before files carried a checksum (or the line itself is damaged: then the
        // rest must still parse).
        return Ok(());
    };
    let want = u32::from_str_radix(hex.trim(), 16)
        .map_err(|_| corrupt(path, &format!("unreadable checksum line '{last}'")))?;
    let got = crc32fast::hash(before.as_bytes());
    if got != want {
        return Err(corrupt(
            path,
            &format!(
                "checksum mismatch: its contents have CRC32 {got:08x} but {want:08x} was \
                 written with them"
            ),
        ));
    }
    Ok(())
}

fn read_props(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            corrupt(path, "not text")
        } else {
            Error::io(format!("read {}", path.display()), e)
        }
    })?;
    check_checksum(path, &text)?;
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(corrupt(path, &format!("unexpected line '{line}'")));
        };
        map.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(map)
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::internal(format!("{} has no parent", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)
            .map_err(|e| Error::io(format!("create {}", tmp.display()), e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| Error::io(format!("write {}", tmp.display()), e))?;
        f.sync_all()
            .map_err(|e| Error::io(format!("sync {}", tmp.display()), e))?;
    }
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("rename {}", path.display()), e))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads VERSION and ROLE: `None` on a first start (neither exists).
pub fn load(meta_dir: &Path) -> Result<Option<(VersionFile, RoleFile)>> {
    let vp = version_path(meta_dir);
    let rp = role_path(meta_dir);
    match (vp.exists(), rp.exists()) {
        (false, false) => return Ok(None),
        (true, false) | (false, true) => {
            return Err(Error::new(
                StatusCode::MetaCorrupted,
                format!(
                    "role file and version file must both exist or both not exist \
                     ({} exists: {}, {} exists: {}); meta_dir {} is incomplete",
                    vp.display(),
                    vp.exists(),
                    rp.display(),
                    rp.exists(),
                    meta_dir.display()
                ),
            ));
        }
        (true, true) => {}
    }
    let v = read_props(&vp)?;
    let cluster_id = v
        .get("clusterId")
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| corrupt(&vp, "no valid clusterId"))?;
    let token = v
        .get("token")
        .filter(|t| !t.is_empty())
        .cloned()
        .ok_or_else(|| corrupt(&vp, "no token"))?;
    let r = read_props(&rp)?;
    let role = r
        .get("role")
        .and_then(|s| FrontendRole::parse(s))
        .ok_or_else(|| corrupt(&rp, "no valid role"))?;
    let name = r
        .get("name")
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| corrupt(&rp, "no name"))?;
    let node_id = r
        .get("nodeId")
        .and_then(|s| s.parse::<NodeId>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| corrupt(&rp, "no valid nodeId"))?;
    Ok(Some((
        VersionFile { cluster_id, token },
        RoleFile {
            role,
            name,
            node_id,
        },
    )))
}

/// Writes VERSION then ROLE (ROLE last: its presence marks a complete first start).
pub fn store(meta_dir: &Path, version: &VersionFile, role: &RoleFile) -> Result<()> {
    write_atomic(
        &version_path(meta_dir),
        &with_checksum(&format!(
            "#{}\nclusterId={}\ntoken={}\nrunMode=shared_nothing\n",
            "Tessera cluster identity", version.cluster_id, version.token
        )),
    )?;
    write_atomic(
        &role_path(meta_dir),
        &with_checksum(&format!(
            "#Tessera frontend identity\nrole={}\nname={}\nnodeId={}\nhostType=IP\n",
            role.role, role.name, role.node_id
        )),
    )
}

/// A new random cluster id: a positive 31-bit integer.
pub fn new_cluster_id() -> i32 {
    loop {
        let id = rand::random::<u32>() & 0x7fff_ffff;
        if id != 0 {
            return id as i32;
        }
    }
}

/// A new random token (UUID-shaped hex).
pub fn new_token() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_halves() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("empty ok"), None);
        let v = VersionFile {
            cluster_id: 42,
            token: new_token(),
        };
        let r = RoleFile {
            role: FrontendRole::Observer,
            name: "127.0.0.1_9010_1".into(),
            node_id: 3,
        };
        store(dir.path(), &v, &r).expect("store");
        assert_eq!(load(dir.path()).expect("load"), Some((v, r)));
        fs::remove_file(role_path(dir.path())).expect("rm");
        let err = load(dir.path()).expect_err("half");
        assert_eq!(err.code, StatusCode::MetaCorrupted);
        assert!(err.message.contains("both exist"), "{}", err.message);
    }

    #[test]
    fn garbage_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("image")).expect("mkdir");
        fs::write(version_path(dir.path()), "clusterId=abc\ntoken=x\n").expect("w");
        fs::write(role_path(dir.path()), "role=FOLLOWER\nname=a\nnodeId=1\n").expect("w");
        let err = load(dir.path()).expect_err("corrupt");
        assert_eq!(err.code, StatusCode::MetaCorrupted);
        assert!(err.message.contains("clusterId"), "{}", err.message);
        fs::write(version_path(dir.path()), [0xff, 0xfe, 0x00]).expect("w");
        assert!(load(dir.path()).is_err());
    }

    #[test]
    fn a_flipped_byte_in_version_or_role_is_caught_by_the_checksum() {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = VersionFile {
            cluster_id: 123_456_789,
            token: new_token(),
        };
        let r = RoleFile {
            role: FrontendRole::Follower,
            name: "127.0.0.1_9010_1".into(),
            node_id: 7,
        };
        store(dir.path(), &v, &r).expect("store");
        for (path, needle) in [
            (version_path(dir.path()), "clusterId=123456789"),
            (role_path(dir.path()), "nodeId=7"),
        ] {
            let good = fs::read_to_string(&path).expect("read");
            assert!(good.contains("#crc32="), "{good}");
            // A digit flipped to another digit: the file still parses, to another cluster id
            // or node id; only the checksum can tell.
            let at = good.find(needle).expect("needle") + needle.len() - 1;
            let mut bad = good.clone().into_bytes();
            bad[at] ^= 0x01;
            fs::write(&path, &bad).expect("write");
            let err = load(dir.path()).expect_err("damaged");
            assert_eq!(err.code, StatusCode::MetaCorrupted);
            assert!(err.message.contains("checksum mismatch"), "{}", err.message);
            assert!(err.message.contains("--helper"), "{}", err.message);
            // A torn write (the checksum line cut off mid-way) is damage too.
            let cut = good.len() - 3;
            fs::write(&path, &good.as_bytes()[..cut]).expect("write");
            assert!(load(dir.path()).is_err());
            fs::write(&path, &good).expect("restore");
        }
        assert_eq!(
            load(dir.path()).expect("restored"),
            Some((v.clone(), r.clone()))
        );
        // Files written before the checksum line existed are read as they are.
        fs::write(
            version_path(dir.path()),
            format!("#old\nclusterId=5\ntoken={}\n", v.token),
        )
        .expect("w");
        assert_eq!(
            load(dir.path()).expect("old").expect("some").0.cluster_id,
            5
        );
    }

    #[test]
    fn cluster_ids_are_positive() {
        for _ in 0..1000 {
            assert!(new_cluster_id() > 0);
        }
        assert_eq!(new_token().len(), 36);
    }
}
