//! Embeds the built web app (`web/dist`, made by `scripts/web-build`) in the
//! server at compile time, in debug and release builds alike: every file under
//! it becomes an entry of `FILES` in `$OUT_DIR/web_assets.rs` (see
//! `src/web/assets.rs`). Without `web/dist` the server still builds, with no
//! files, and answers `/` with a page saying how to build the web app; no Node
//! is ever needed here. `DRIVE_WEB_DIST` names another folder.

use std::{
    env,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DRIVE_WEB_DIST");
    // `sqlx::migrate!` embeds the migrations: a new one must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = env::var_os("DRIVE_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../web/dist"));

    let mut files = Vec::new();
    if dist.is_dir() {
        println!("cargo:rerun-if-changed={}", dist.display());
        collect(&dist, &dist, &mut files);
    } else if let Some(web) = dist.parent().filter(|web| web.is_dir()) {
        // Rebuilt once the web app is built (a missing path would rebuild every time).
        println!("cargo:rerun-if-changed={}", web.display());
    }
    files.sort();

    let mut code = String::from("/// The files of the built web app: path relative to `web/dist`, bytes.\n");
    code.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (relative, absolute) in &files {
        let _ = writeln!(code, "    ({relative:?}, include_bytes!({absolute:?})),");
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_assets.rs");
    fs::write(&out, code).expect("writing web_assets.rs");
}

/// Every file under `dir`, as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        println!("cargo:warning=cannot read {}", dir.display());
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
            continue;
        }
        let (Ok(relative), Ok(absolute)) = (path.strip_prefix(root), path.canonicalize()) else {
            continue;
        };
        let relative: Vec<&str> = relative.iter().filter_map(|part| part.to_str()).collect();
        match absolute.to_str() {
            Some(absolute) => files.push((relative.join("/"), absolute.to_owned())),
            None => println!("cargo:warning=skipping {}: not UTF-8", path.display()),
        }
    }
}
