//! File helpers shared by the server and the client.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The temporary file [`save_atomic`] writes before renaming it over `path`: `<path>.tmp`,
/// in the same directory (so the rename stays on one file system).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces the file at `path` with `bytes` so that a reader sees either the old content or
/// the new, never a part: writes [`temp_path`] created with permission bits `mode` (a
/// temporary file left over from an earlier try is truncated and given `mode` too), syncs
/// it, renames it over `path` and syncs the directory (best effort). On an error the
/// temporary file is removed (best effort) and `path` is left as it was.
///
/// The error is the bare [`std::io::Error`]: each caller names the file in its own words.
pub fn save_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let written = write_synced(&tmp, bytes, mode).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_synced(tmp: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(tmp)?;
    // `mode` applies only when the file is created (and the umask narrows it): set it
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn save_atomic_replaces_with_the_mode_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("amelie-common-fs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        assert_eq!(temp_path(&path), dir.join("config.json.tmp"));

        // a new file
        save_atomic(&path, b"first", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        assert_eq!(mode_of(&path), 0o600);
        assert!(!temp_path(&path).exists());

        // the old content replaced (a longer one by a shorter one), another mode
        fs::write(&path, b"an older and longer content").unwrap();
        save_atomic(&path, b"second", 0o640).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(mode_of(&path), 0o640);

        // a temporary file left over with a wider mode and other bytes
        fs::write(
            temp_path(&path),
            b"left over, much longer than the new text",
        )
        .unwrap();
        fs::set_permissions(temp_path(&path), fs::Permissions::from_mode(0o666)).unwrap();
        save_atomic(&path, b"third", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"third");
        assert_eq!(mode_of(&path), 0o600);
        assert!(!temp_path(&path).exists());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.json"]);

        // a directory that is not there: an error, nothing made
        let missing = dir.join("no/such/file");
        assert_eq!(
            save_atomic(&missing, b"x", 0o600).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
