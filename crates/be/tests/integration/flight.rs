//! Query scans over Arrow Flight (brpc_port): bad tickets, strangers and unknown tablets get
//! clear errors; a scan of a new tablet returns its (empty) rows.

use arrow_flight::Ticket;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::StreamExt;
use prost::Message;
use tonic::Code;

use crate::*;

async fn do_get(cluster: Option<i32>, ticket: Vec<u8>) -> Result<usize, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{BE}:8060"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect brpc_port");
    let mut c = FlightServiceClient::new(channel);
    let mut stream = c
        .do_get(with_cluster(Ticket::new(ticket), cluster))
        .await?
        .into_inner();
    let mut messages = 0;
    while let Some(m) = stream.next().await {
        m?;
        messages += 1;
    }
    Ok(messages)
}

fn scan(tablet_id: i64, version: i64, fragment: Vec<u8>) -> Vec<u8> {
    proto::ScanTicket {
        tablet_id,
        version,
        fragment,
        query_id: "test".into(),
        backend_id: 0,
        // A query's default exec_mem_limit: scans run under a memory pool as the FE sends them.
        mem_limit: 2 << 30,
    }
    .encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_refuse_bad_input_and_read_a_tablet() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_reports, _stop_fe) = fake_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(9060).await;
    create(&mut c, 40_001, 1).await;

    let leaf = query::TabletLeaf {
        table: "db.t".into(),
        schema: schema(),
        projection: None,
        predicate: None,
        limit: None,
    };
    let fragment = query::encode_fragment(std::sync::Arc::new(
        query::TabletLeafExec::try_new(leaf).expect("leaf"),
    ))
    .expect("encode")
    .to_vec();

    // Strangers.
    let e = do_get(None, scan(40_001, 1, fragment.clone()))
        .await
        .expect_err("no cluster id");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let e = do_get(Some(77), scan(40_001, 1, fragment.clone()))
        .await
        .expect_err("other cluster");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    // Garbage tickets and fragments.
    let e = do_get(Some(CLUSTER), b"\xff\xff\xff".to_vec())
        .await
        .expect_err("garbage ticket");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = do_get(Some(CLUSTER), scan(40_001, 1, b"not a plan".to_vec()))
        .await
        .expect_err("garbage fragment");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    // Unknown tablets and versions the replica does not have.
    let e = do_get(Some(CLUSTER), scan(49_999, 1, fragment.clone()))
        .await
        .expect_err("no tablet");
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("49999"), "{e:?}");
    let e = do_get(Some(CLUSTER), scan(40_001, 5, fragment.clone()))
        .await
        .expect_err("version");
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("version 5"), "{e:?}");
    // A valid scan of the new, empty tablet: the stream ends without error.
    let n = do_get(Some(CLUSTER), scan(40_001, 1, fragment))
        .await
        .expect("scan");
    assert!(
        n <= 1,
        "an empty tablet sends at most a schema message, got {n}"
    );
    handle.shutdown().await;
}
