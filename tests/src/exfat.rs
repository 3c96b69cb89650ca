//! A real case-insensitive file system with Windows' name rules: an exFAT
//! image on a loop device, mounted with Debian's `exfat-fuse` (see
//! `scripts/setup`). Needs root, as CI and the build machines have.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

pub struct Exfat {
    dir: tempfile::TempDir,
    device: String,
}

fn run(program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    if !output.status.success() {
        bail!("{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl Exfat {
    /// Mounts a fresh 64 MiB exFAT file system. Outside CI, `None` (with a
    /// note) where it cannot be had (not root, tools missing); in CI that is
    /// a failure, so that these cases never silently stop running.
    pub fn mount() -> Result<Option<Self>> {
        match Self::try_mount() {
            Ok(mount) => Ok(Some(mount)),
            Err(error) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "skipped: no exFAT mount here ({error:#}); scripts/setup installs exfat-fuse, and it needs root"
                );
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    fn try_mount() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let image = dir.path().join("disk.img");
        std::fs::File::create(&image)?.set_len(64 << 20)?;
        let image = image.to_str().context("a UTF-8 temp path")?;
        run("mkfs.exfat", &[image])?;
        let device = run("losetup", &["-f", "--show", image])?;
        let mount_point = dir.path().join("mnt");
        std::fs::create_dir(&mount_point)?;
        let mounted = run(
            "mount.exfat-fuse",
            &[&device, mount_point.to_str().context("a UTF-8 temp path")?],
        );
        if let Err(error) = mounted {
            let _ = run("losetup", &["-d", &device]);
            return Err(error);
        }
        Ok(Self { dir, device })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }
}

impl Drop for Exfat {
    fn drop(&mut self) {
        let mount_point = self.path();
        let mount_point = mount_point.to_str().unwrap_or_default();
        for _ in 0..20 {
            if run("umount", &[mount_point]).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        let _ = run("losetup", &["-d", &self.device]);
    }
}

/// Whether `dir` tells names apart by case only (false on exFAT).
pub fn case_sensitive(dir: &Path) -> bool {
    let probe = dir.join("Case-Probe");
    let _ = std::fs::write(&probe, b"");
    let sensitive = !dir.join("case-probe").exists();
    let _ = std::fs::remove_file(&probe);
    sensitive
}
