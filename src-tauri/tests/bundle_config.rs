//! The packaging settings in tauri.conf.json, checked by parsing them with
//! Tauri's own configuration types (unknown or misspelt keys are errors
//! there). The Linux packages are built and installed by
//! scripts/test-packages; the Windows (NSIS, MSI) and macOS (dmg) installers
//! and the AppImage cannot be built on these machines, so this is what
//! checks their settings.

use std::path::{Path, PathBuf};

use tauri::utils::config::{BundleType, Config, NSISInstallerMode};

fn src_tauri() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config() -> Config {
    // The file at the top of the repository, through the link next to
    // Cargo.toml that the build and the Tauri CLI read.
    let path = src_tauri().join("tauri.conf.json");
    let text = std::fs::read_to_string(&path).expect("src-tauri/tauri.conf.json");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The width and height of a PNG, from its IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn the_config_link_is_the_file_at_the_top() {
    let link = src_tauri().join("tauri.conf.json");
    let top = src_tauri().join("../tauri.conf.json");
    assert_eq!(
        std::fs::read(&link).expect("the link"),
        std::fs::read(&top).expect("the file"),
        "src-tauri/tauri.conf.json must be a link to ../tauri.conf.json"
    );
}

#[test]
fn every_installer_is_configured() {
    let config = config();
    let bundle = &config.bundle;
    assert!(bundle.active, "bundle.active");
    assert_eq!(config.main_binary_name.as_deref(), Some("drive-desktop"));
    let targets = bundle.targets.to_vec();
    for wanted in [
        BundleType::Deb,
        BundleType::Rpm,
        BundleType::AppImage,
        BundleType::Nsis,
        BundleType::Msi,
        BundleType::Dmg,
        BundleType::App,
    ] {
        assert!(targets.contains(&wanted), "{wanted:?} is not a bundle target");
    }

    // Linux: the `drive` CLI goes with the app in every package.
    let cli = Path::new("/usr/bin/drive");
    for (kind, files) in [
        ("deb", &bundle.linux.deb.files),
        ("rpm", &bundle.linux.rpm.files),
        ("appimage", &bundle.linux.appimage.files),
    ] {
        let source = files.get(cli).unwrap_or_else(|| panic!("{kind}: no /usr/bin/drive"));
        assert!(source.ends_with("release/drive"), "{kind}: {}", source.display());
    }
    // Libraries loaded at run time or linked by the CLI, which the bundler
    // cannot see (for the .deb it adds the tray library itself).
    let deb_depends = bundle.linux.deb.depends.clone().unwrap_or_default();
    assert!(deb_depends.iter().any(|d| d == "libdbus-1-3"), "{deb_depends:?}");
    let rpm_depends = bundle.linux.rpm.depends.clone().unwrap_or_default();
    assert!(
        rpm_depends.iter().any(|d| d.contains("appindicator")),
        "{rpm_depends:?}"
    );
    assert!(!bundle.linux.appimage.bundle_media_framework);

    // Windows: an MSI with a fixed upgrade code (so that a new version
    // replaces the old one) and a per-user NSIS installer.
    let windows = &bundle.windows;
    let wix = windows.wix.as_ref().expect("bundle.windows.wix");
    assert!(wix.upgrade_code.is_some(), "the MSI needs a fixed upgradeCode");
    let nsis = windows.nsis.as_ref().expect("bundle.windows.nsis");
    assert!(matches!(nsis.install_mode, NSISInstallerMode::CurrentUser));
    let installer_icon = nsis.installer_icon.as_ref().expect("an installer icon");
    assert!(
        src_tauri().join(installer_icon).is_file(),
        "{}",
        installer_icon.display()
    );
    assert_eq!(windows.digest_algorithm.as_deref(), Some("sha256"));

    // macOS: the disk image's window.
    let macos = &bundle.macos;
    assert!(macos.minimum_system_version.is_some());
    assert!(macos.dmg.window_size.width > 0 && macos.dmg.window_size.height > 0);
}

#[test]
fn icons_exist_at_every_size_the_packages_install() {
    let config = config();
    let icons: Vec<PathBuf> = config.bundle.icon.iter().map(|icon| src_tauri().join(icon)).collect();
    let mut sizes: Vec<u32> = Vec::new();
    for icon in &icons {
        assert!(icon.is_file(), "{} is missing", icon.display());
        if icon.extension().is_some_and(|e| e == "png") {
            let (width, height) = png_size(icon);
            assert_eq!(width, height, "{} is not square", icon.display());
            sizes.push(width);
        }
    }
    sizes.sort_unstable();
    assert_eq!(sizes, [32, 64, 128, 256, 512], "the hicolor sizes");
    // The first PNG is the window icon compiled into the app.
    assert!(config.bundle.icon[0].ends_with("icon.png"));

    let ico = icons
        .iter()
        .find(|i| i.extension().is_some_and(|e| e == "ico"))
        .expect("an .ico");
    let ico = std::fs::read(ico).unwrap();
    assert_eq!(&ico[..4], [0, 0, 1, 0], "an ICO header");
    let icns = icons
        .iter()
        .find(|i| i.extension().is_some_and(|e| e == "icns"))
        .expect("an .icns");
    let icns = std::fs::read(icns).unwrap();
    assert_eq!(&icns[..4], b"icns");
    assert_eq!(u32::from_be_bytes(icns[4..8].try_into().unwrap()) as usize, icns.len());
}
