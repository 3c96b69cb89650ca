fn main() {
    // tauri.conf.json lives at the top of the repository (see DESIGN.md's layout).
    let attributes = tauri_build::Attributes::new().config_path("../tauri.conf.json");
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
