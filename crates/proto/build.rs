//! Compiles `proto/tessera.proto` with the vendored protoc, so no system package is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: a build script is single-threaded, so no other thread reads the environment.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("PROTOC", protoc);
    }
    println!("cargo:rerun-if-changed=proto/tessera.proto");
    tonic_prost_build::configure().compile_protos(&["proto/tessera.proto"], &["proto"])?;
    Ok(())
}
