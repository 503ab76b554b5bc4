//! Assembles the matmul micro-kernel (`src/gemm_micro.s`, WebAssembly text; `gemm.rs` says why it is
//! not Rust) with LLVM's assembler and links it into the wasm32 build. Host builds (`cargo test`) use
//! the Rust form of the kernel and need no assembler.
//!
//! The assembler is `$LLVM_MC`, else `llvm-mc-N` for the compiler's own LLVM major version N (Debian's
//! `llvm-N`, which `rust-web-llvm` brings: 22 for rustc-web 1.96), else `llvm-mc`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "src/gemm_micro.s";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=LLVM_MC");
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    // The object is assembled with the crate's own target features: wasm-ld refuses shared memory
    // with an object built without atomics and bulk memory, and the kernel itself needs SIMD128 and
    // relaxed SIMD (were they off, the module would link and then fail to load).
    let features: Vec<String> = env::var("CARGO_CFG_TARGET_FEATURE")
        .unwrap_or_default()
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    for needed in ["simd128", "relaxed-simd"] {
        if !features.iter().any(|f| f == needed) {
            fail(&format!(
                "{SOURCE} needs the {needed} target feature (scripts/build_wasm.ts sets it)"
            ));
        }
    }
    let plus: Vec<String> = features.iter().map(|f| format!("+{f}")).collect();
    let mattr = format!("-mattr={}", plus.join(","));
    let object =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("gemm_micro.o");
    let candidates = match env::var("LLVM_MC") {
        Ok(mc) => vec![mc],
        Err(_) => {
            let mut found = vec!["llvm-mc".to_string()];
            if let Some(major) = rustc_llvm_major() {
                found.insert(0, format!("llvm-mc-{major}"));
            }
            found
        }
    };
    for mc in &candidates {
        let status = Command::new(mc)
            .args([
                "-triple=wasm32-unknown-unknown",
                &mattr,
                "-filetype=obj",
                SOURCE,
                "-o",
            ])
            .arg(&object)
            .status();
        match status {
            Ok(s) if s.success() => {
                println!("cargo:rustc-link-arg={}", object.display());
                return;
            }
            Ok(s) => fail(&format!("{mc} failed on {SOURCE} ({s})")),
            Err(_) => continue,
        }
    }
    fail(&format!(
        "no LLVM assembler found (tried {}); install Debian's llvm-22 or set LLVM_MC",
        candidates.join(", ")
    ));
}

/// The major version of the LLVM inside the compiler (`rustc -vV`: "LLVM version: 22.1.8"), whose
/// assembler is the one to use: Debian's `rust-web-llvm` brings the matching `llvm-N`.
fn rustc_llvm_major() -> Option<String> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))?;
    Some(version.split('.').next()?.to_string())
}

/// One line on stderr (cargo shows it under the failed build script) and a non-zero exit.
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
