//! openraft's storage conformance suite against the real redb log store and state machine.

use openraft::StorageError;
use openraft::testing::log::StoreBuilder;
use openraft::testing::log::Suite;

use crate::log_store::LogStore;
use crate::state_machine::StateMachineStore;
use crate::types::TypeConfig;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogStore::open(&dir.path().join("journal.redb")).expect("open journal");
        let sm = StateMachineStore::open(dir.path().join("image")).expect("open state machine");
        Ok((dir, log, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_store_passes_the_openraft_suite() -> Result<(), StorageError<TypeConfig>> {
    Suite::test_all(Builder).await
}
