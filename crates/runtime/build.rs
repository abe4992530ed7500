//! Compiles CRIU's RPC protocol (proto/criu/rpc.proto) into Rust with
//! protobuf-codegen's pure-Rust parser: no `protoc` on the build machine.

fn main() {
    protobuf_codegen::Codegen::new()
        .pure()
        .include("proto/criu")
        .input("proto/criu/rpc.proto")
        .cargo_out_dir("criu_proto")
        .run_from_script();
    println!("cargo:rerun-if-changed=proto/criu/rpc.proto");
}
