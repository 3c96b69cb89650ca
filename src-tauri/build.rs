fn main() {
    // tauri.conf.json lives at the top of the repository (see DESIGN.md's
    // layout); src-tauri/tauri.conf.json is a link to it, so that the build,
    // `generate_context!` and the Tauri CLI (which looks for the config next
    // to Cargo.toml) read one file, with paths relative to src-tauri/.
    let attributes = tauri_build::Attributes::new();
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
