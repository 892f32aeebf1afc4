//! The FE journal (crates/meta): decoding what the journal and the checkpoint images hold, and
//! applying it. A journal entry, an op or an image that decodes must apply to the catalog
//! without a panic, and the catalog that results must still checkpoint: its image encodes and
//! decodes back to an equal catalog (else the next checkpoint would fail or lose state).
//!
//! Input: byte 0 picks the form of the rest.
//! - even: a checkpoint image file (`image::decode`), then checkpointed again.
//! - odd: lines, each a journal log entry (openraft `Entry` of `JournalOp`, as the redb log
//!   stores it) or else a bare `JournalOp`, applied in order to one catalog. Each one that
//!   decodes also encodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meta::JournalOp;
use meta::catalog::Catalog;
use meta::image::{self, ImageBody};
use meta::types::{Entry, StoredMembership};
use openraft::EntryPayload;

/// What the state machine does with an entry's payload (state_machine.rs `apply`).
fn apply_entry(catalog: &mut Catalog, entry: &Entry) {
    match &entry.payload {
        EntryPayload::Blank => {}
        EntryPayload::Normal(op) => {
            catalog.apply(op);
        }
        EntryPayload::Membership(m) => catalog.apply_membership(m),
    }
}

fn checkpoint(catalog: &Catalog) {
    let body = ImageBody {
        last_applied: None,
        membership: StoredMembership::default(),
        catalog: catalog.clone(),
    };
    let bytes = match image::encode(&body) {
        Ok(b) => b,
        Err(e) => panic!("the catalog cannot be checkpointed: {e}"),
    };
    match image::decode(&bytes, "fuzz") {
        Ok(back) => assert_eq!(
            back.catalog, *catalog,
            "the image does not decode to the catalog"
        ),
        Err(e) => panic!("a checkpoint just written does not decode: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(body) = image::decode(rest, "fuzz") {
            checkpoint(&body.catalog);
        }
        return;
    }
    let mut catalog = Catalog::default();
    let mut applied = false;
    for line in rest.split(|b| *b == b'\n') {
        if let Ok(entry) = serde_json::from_slice::<Entry>(line) {
            let again = serde_json::to_vec(&entry).unwrap_or_default();
            let back: Entry = match serde_json::from_slice(&again) {
                Ok(e) => e,
                Err(e) => panic!("an entry does not decode from its own encoding: {e}"),
            };
            assert_eq!(back, entry, "an entry changes through encode/decode");
            apply_entry(&mut catalog, &entry);
            applied = true;
        } else if let Ok(op) = serde_json::from_slice::<JournalOp>(line) {
            let again = serde_json::to_vec(&op).unwrap_or_default();
            match serde_json::from_slice::<JournalOp>(&again) {
                Ok(back) => assert_eq!(back, op, "an op changes through encode/decode"),
                Err(e) => panic!("an op does not decode from its own encoding: {e}"),
            }
            catalog.apply(&op);
            applied = true;
        }
    }
    if applied {
        checkpoint(&catalog);
    }
});
