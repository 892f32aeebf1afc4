//! The cache of decoded column data (StarRocks's storage page cache).
//!
//! Rowset files never change once written, so a column of one row group, decoded from
//! Parquet into an Arrow array, can be kept and served to the next query as it is: no disk
//! read, no LZ4, no dictionary or bit-unpacking work. Entries are keyed by the file (path,
//! size and modification time, so a file written again under the same name is a new key),
//! the row group and the column; the files' footers are kept the same way. The cache holds
//! at most `storage_page_cache_limit` bytes and drops the least recently used entries
//! first. Entries of files that compaction or a drop removed are never asked for again and
//! age out.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use arrow::array::ArrayRef;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderMetadata;

/// A rowset file as the cache knows it.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct FileKey {
    path: Arc<str>,
    len: u64,
    modified_ns: u128,
}

impl FileKey {
    /// The key of the file at `path` as it is now, and its size.
    pub fn of(path: &Path) -> std::io::Result<FileKey> {
        let meta = std::fs::metadata(path)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Ok(FileKey {
            path: Arc::from(path.to_string_lossy().as_ref()),
            len: meta.len(),
            modified_ns,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.len
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Key {
    /// A file's footer.
    Footer(FileKey),
    /// One column of one row group of a file.
    Column(FileKey, usize, usize),
}

enum Value {
    Footer(ArrowReaderMetadata),
    Column(ArrayRef),
}

struct Entry {
    value: Value,
    bytes: usize,
    tick: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    /// Entries by last use, oldest first.
    lru: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
    stats: CacheStats,
}

/// Counters of a [`ColumnCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Column lookups answered from the cache.
    pub hits: u64,
    /// Column lookups that had to decode.
    pub misses: u64,
    /// Entries dropped to make room.
    pub evictions: u64,
    /// Bytes held now.
    pub bytes: u64,
    /// Entries held now.
    pub entries: u64,
}

/// A bounded LRU cache of decoded columns and file footers, shared by every scan of a
/// backend.
pub struct ColumnCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl ColumnCache {
    /// A cache of at most `capacity` bytes (0 keeps nothing).
    pub fn new(capacity: usize) -> ColumnCache {
        ColumnCache {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Its limit in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Its counters.
    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            bytes: inner.bytes as u64,
            entries: inner.map.len() as u64,
            ..inner.stats
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every change is one step).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The footer of `file`, if cached.
    pub fn footer(&self, file: &FileKey) -> Option<ArrowReaderMetadata> {
        match self.get(&Key::Footer(file.clone()))? {
            Value::Footer(m) => Some(m),
            Value::Column(_) => None,
        }
    }

    /// Keeps the footer of `file`.
    pub fn put_footer(&self, file: &FileKey, meta: ArrowReaderMetadata) {
        let bytes = meta.metadata().memory_size();
        self.put(Key::Footer(file.clone()), Value::Footer(meta), bytes);
    }

    /// Column `column` of row group `row_group` of `file`, if cached. Counts a hit or a miss.
    pub fn column(&self, file: &FileKey, row_group: usize, column: usize) -> Option<ArrayRef> {
        let found = match self.get(&Key::Column(file.clone(), row_group, column)) {
            Some(Value::Column(a)) => Some(a),
            _ => None,
        };
        let mut inner = self.lock();
        if found.is_some() {
            inner.stats.hits += 1;
        } else {
            inner.stats.misses += 1;
        }
        found
    }

    /// Keeps a decoded column.
    pub fn put_column(&self, file: &FileKey, row_group: usize, column: usize, array: ArrayRef) {
        let bytes = array.get_array_memory_size();
        self.put(
            Key::Column(file.clone(), row_group, column),
            Value::Column(array),
            bytes,
        );
    }

    fn get(&self, key: &Key) -> Option<Value> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.map.get_mut(key)?;
        let old = std::mem::replace(&mut entry.tick, tick);
        let value = match &entry.value {
            Value::Footer(m) => Value::Footer(m.clone()),
            Value::Column(a) => Value::Column(a.clone()),
        };
        inner.lru.remove(&old);
        inner.lru.insert(tick, key.clone());
        Some(value)
    }

    fn put(&self, key: Key, value: Value, bytes: usize) {
        // Bookkeeping per entry, so that many tiny entries still count.
        let bytes = bytes + 128;
        if bytes > self.capacity {
            return;
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(old) = inner.map.remove(&key) {
            inner.lru.remove(&old.tick);
            inner.bytes -= old.bytes;
        }
        while inner.bytes + bytes > self.capacity {
            let Some((_, oldest)) = inner.lru.pop_first() else {
                break;
            };
            if let Some(e) = inner.map.remove(&oldest) {
                inner.bytes -= e.bytes;
                inner.stats.evictions += 1;
            }
        }
        inner.bytes += bytes;
        inner.lru.insert(tick, key.clone());
        inner.map.insert(key, Entry { value, bytes, tick });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use arrow::array::Int64Array;

    fn file(name: &str) -> FileKey {
        FileKey {
            path: Arc::from(name),
            len: 1,
            modified_ns: 1,
        }
    }

    fn column(n: usize) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(0..n as i64))
    }

    #[test]
    fn keeps_columns_and_evicts_the_least_recently_used() {
        let one = column(1000);
        let size = one.get_array_memory_size() + 128;
        let cache = ColumnCache::new(size * 2);
        let (a, b) = (file("a"), file("b"));
        cache.put_column(&a, 0, 0, one.clone());
        cache.put_column(&a, 0, 1, one.clone());
        assert!(cache.column(&a, 0, 0).is_some_and(|c| c.len() == 1000));
        // (a, 0, 1) is now the oldest and makes room for b's column.
        cache.put_column(&b, 0, 0, one.clone());
        assert!(cache.column(&a, 0, 1).is_none());
        assert!(cache.column(&a, 0, 0).is_some());
        assert!(cache.column(&b, 0, 0).is_some());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.evictions), (3, 1, 1));
        assert_eq!((stats.entries, stats.bytes), (2, 2 * size as u64));
    }

    #[test]
    fn a_rewritten_file_is_a_new_key_and_oversized_entries_are_not_kept() {
        let cache = ColumnCache::new(1 << 20);
        let old = file("f");
        let new = FileKey {
            modified_ns: 2,
            ..file("f")
        };
        cache.put_column(&old, 3, 2, column(10));
        assert!(cache.column(&new, 3, 2).is_none());
        assert!(cache.column(&old, 3, 2).is_some());
        cache.put_column(&old, 0, 0, column(1 << 20));
        assert!(cache.column(&old, 0, 0).is_none());
        assert!(cache.stats().bytes < 1 << 20);
        let off = ColumnCache::new(0);
        off.put_column(&old, 0, 0, column(1));
        assert_eq!(off.stats().entries, 0);
    }
}
