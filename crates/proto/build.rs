//! Compiles `proto/tessera.proto` with the vendored protoc, so no system package is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: a build script is single-threaded, so no other thread reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("PROTOC", protoc);
    }
    println!("cargo:rerun-if-changed=proto/tessera.proto");
    // A rowset file's bytes go to every replica of a tablet: `Bytes` shares them, no copy.
    tonic_prost_build::configure()
        .bytes(".tessera.WriteTabletRequest.parquet")
        .compile_protos(&["proto/tessera.proto"], &["proto"])?;
    Ok(())
}
