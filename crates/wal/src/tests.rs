use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::format::{self, FILE_HEADER_SIZE, RECORD_HEADER_SIZE};
use crate::*;

/// A unique scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "amelie-wal-{name}-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn wal(&self) -> PathBuf {
        self.0.join("wal")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn config(dir: &Path, rotate_wm: u64) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        rotate_wm,
        sync_on_rotate: false,
        sync_on_write: false,
    }
}

fn body(lsn: u64) -> Vec<u8> {
    let len = (lsn * 7 % 53) as usize;
    (0..len).map(|i| (lsn as usize + i) as u8).collect()
}

fn expected(lsns: impl IntoIterator<Item = u64>) -> Vec<WalRecord> {
    lsns.into_iter()
        .map(|lsn| WalRecord {
            lsn,
            count: (lsn % 5) as u32,
            body: body(lsn),
        })
        .collect()
}

/// Writes records `from..=to` in batches of `batch`.
fn write_range(wal: &mut Wal, from: u64, to: u64, batch: usize) {
    let bodies: Vec<(u64, Vec<u8>)> = (from..=to).map(|l| (l, body(l))).collect();
    for chunk in bodies.chunks(batch) {
        let recs: Vec<(u64, u32, &[u8])> = chunk
            .iter()
            .map(|(l, b)| (*l, (*l % 5) as u32, b.as_slice()))
            .collect();
        wal.write_batch(&recs).unwrap();
    }
}

fn open(dir: &Path, rotate_wm: u64) -> (Wal, Recovery) {
    Wal::open(config(dir, rotate_wm)).unwrap()
}

fn file_paths(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

/// Offsets of every record in a file's bytes.
fn record_offsets(data: &[u8]) -> Vec<usize> {
    let mut off = FILE_HEADER_SIZE;
    let mut v = Vec::new();
    while off < data.len() {
        let (_, len) = format::parse_record(&data[off..]).unwrap();
        v.push(off);
        off += len;
    }
    v
}

#[test]
fn empty_dir() {
    let t = TempDir::new("empty");
    let (wal, rec) = open(&t.wal(), 1 << 20);
    assert!(rec.records.is_empty());
    assert_eq!(rec.truncated, None);
    assert_eq!(rec.last_lsn, 0);
    assert_eq!(wal.last_lsn(), 0);
    assert_eq!(wal.files(), vec![(1, FILE_HEADER_SIZE as u64)]);
    assert!(t.wal().join("00000000000000000001.wal").exists());
    drop(wal);
    // Reopen the header-only log.
    let (wal, rec) = open(&t.wal(), 1 << 20);
    assert!(rec.records.is_empty());
    assert_eq!(rec.last_lsn, 0);
    assert_eq!(wal.files(), vec![(1, FILE_HEADER_SIZE as u64)]);
}

#[test]
fn roundtrip_across_files() {
    let t = TempDir::new("roundtrip");
    let (mut wal, _) = open(&t.wal(), 256);
    write_range(&mut wal, 1, 500, 7);
    assert_eq!(wal.last_lsn(), 500);
    let files = wal.files();
    assert!(files.len() > 10, "expected rotation, got {files:?}");
    assert_eq!(files[0].0, 1);
    for w in files.windows(2) {
        assert!(w[0].0 < w[1].0);
    }
    // Every file is named by the first LSN it contains.
    for info in wal.file_infos() {
        if let Some(last) = info.last_lsn {
            assert!(last >= info.first_lsn);
        }
    }
    let on_disk: Vec<(u64, u64)> = file_paths(&t.wal())
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            (
                format::parse_file_name(name).unwrap(),
                fs::metadata(p).unwrap().len(),
            )
        })
        .collect();
    assert_eq!(on_disk, files);
    let stats = wal.stats();
    assert_eq!(stats.records, 500);
    assert_eq!(stats.writes, 500usize.div_ceil(7) as u64);
    assert_eq!(stats.rotations as usize, files.len() - 1);
    wal.close().unwrap();

    let (wal, rec) = open(&t.wal(), 256);
    assert_eq!(rec.records, expected(1..=500));
    assert_eq!(rec.truncated, None);
    assert_eq!(rec.last_lsn, 500);
    assert_eq!(wal.files(), files);

    // The streaming reader sees the same.
    let mut seen = Vec::new();
    let summary = Wal::read_dir(&t.wal(), |r| {
        seen.push(r.to_record());
        Ok::<(), WalError>(())
    })
    .unwrap();
    assert_eq!(seen, expected(1..=500));
    assert_eq!(summary.records, 500);
    assert_eq!(summary.last_lsn, 500);
    assert_eq!(summary.files, files);
    assert_eq!(summary.damage, None);
}

#[test]
fn first_lsn_names_match_contiguous_records() {
    let t = TempDir::new("names");
    let (mut wal, _) = open(&t.wal(), 100);
    write_range(&mut wal, 1, 60, 3);
    drop(wal);
    for p in file_paths(&t.wal()) {
        let name = format::parse_file_name(p.file_name().unwrap().to_str().unwrap()).unwrap();
        let data = fs::read(&p).unwrap();
        if data.len() > FILE_HEADER_SIZE {
            let (r, _) = format::parse_record(&data[FILE_HEADER_SIZE..]).unwrap();
            assert_eq!(r.lsn, name);
        }
    }
}

#[test]
fn reopen_continues_lsns() {
    let t = TempDir::new("reopen");
    let (mut wal, _) = open(&t.wal(), 300);
    write_range(&mut wal, 1, 40, 3);
    wal.close().unwrap();

    let (mut wal, rec) = open(&t.wal(), 300);
    assert_eq!(rec.last_lsn, 40);
    assert_eq!(wal.last_lsn(), 40);
    let err = wal.write_batch(&[(40, 1, b"x")]).unwrap_err();
    assert!(matches!(
        err,
        WalError::NonMonotonicLsn { lsn: 40, last: 40 }
    ));
    write_range(&mut wal, 41, 90, 4);
    drop(wal);

    let (wal, rec) = open(&t.wal(), 300);
    assert_eq!(rec.records, expected(1..=90));
    assert_eq!(wal.last_lsn(), 90);
}

#[test]
fn non_monotonic_batch_writes_nothing() {
    let t = TempDir::new("monotonic");
    let (mut wal, _) = open(&t.wal(), 1 << 20);
    wal.write_batch(&[(5, 1, b"a")]).unwrap();
    let size = wal.files()[0].1;
    let err = wal
        .write_batch(&[(6, 1, b"b"), (8, 1, b"c"), (8, 1, b"d")])
        .unwrap_err();
    assert!(matches!(err, WalError::NonMonotonicLsn { lsn: 8, last: 8 }));
    let err = wal.write_batch(&[(3, 1, b"b")]).unwrap_err();
    assert!(matches!(err, WalError::NonMonotonicLsn { lsn: 3, last: 5 }));
    assert_eq!(wal.files()[0].1, size);
    assert_eq!(wal.last_lsn(), 5);
    // Gaps are fine.
    wal.write_batch(&[(6, 1, b"b"), (10, 2, b"c")]).unwrap();
    wal.write_batch(&[]).unwrap();
    drop(wal);
    let (_, rec) = open(&t.wal(), 1 << 20);
    let lsns: Vec<u64> = rec.records.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, vec![5, 6, 10]);
    assert_eq!(rec.records[2].count, 2);
    assert_eq!(rec.records[2].body, b"c");
}

/// Builds a log of records 1..=n spread over a few files; returns the last file's path.
fn build_log(dir: &Path, n: u64, rotate_wm: u64) -> PathBuf {
    let (mut wal, _) = open(dir, rotate_wm);
    write_range(&mut wal, 1, n, 2);
    // Make sure the last file holds records (not just a fresh header after a rotation).
    if wal.file_infos().last().unwrap().last_lsn.is_none() {
        wal.write_batch(&[(n + 1, 1, b"tail")]).unwrap();
    }
    let path = wal.current_path();
    wal.close().unwrap();
    path
}

#[test]
fn truncated_last_record_every_offset() {
    let src = TempDir::new("torn-src");
    let last = build_log(&src.wal(), 30, 400);
    let files = file_paths(&src.wal());
    assert!(files.len() > 1);
    let (_, full) = open(&src.wal(), 400);
    let all = full.records;
    let data = fs::read(&last).unwrap();
    let offsets = record_offsets(&data);
    let last_start = *offsets.last().unwrap();
    let last_lsn = all.last().unwrap().lsn;

    for cut in last_start..data.len() {
        let t = TempDir::new("torn");
        fs::create_dir_all(t.wal()).unwrap();
        for f in &files {
            fs::copy(f, t.wal().join(f.file_name().unwrap())).unwrap();
        }
        let target = t.wal().join(last.file_name().unwrap());
        fs::write(&target, &data[..cut]).unwrap();

        let (mut wal, rec) = open(&t.wal(), 400);
        assert_eq!(rec.records, all[..all.len() - 1], "cut at {cut}");
        if cut == last_start {
            assert_eq!(rec.truncated, None);
        } else {
            let msg = rec.truncated.expect("torn tail reported");
            assert!(
                msg.contains(last.file_name().unwrap().to_str().unwrap()),
                "{msg}"
            );
            assert!(msg.contains(&format!("offset {last_start}")), "{msg}");
        }
        assert_eq!(fs::metadata(&target).unwrap().len(), last_start as u64);
        assert_eq!(wal.last_lsn(), last_lsn - 1);

        // The next write continues right after the last good record.
        wal.write_batch(&[(last_lsn, 9, b"rewritten")]).unwrap();
        drop(wal);
        let (_, rec) = open(&t.wal(), 400);
        assert_eq!(rec.truncated, None);
        assert_eq!(rec.records.len(), all.len());
        assert_eq!(rec.records[..all.len() - 1], all[..all.len() - 1]);
        let r = rec.records.last().unwrap();
        assert_eq!(
            (r.lsn, r.count, r.body.as_slice()),
            (last_lsn, 9, &b"rewritten"[..])
        );
    }
}

#[test]
fn flipped_byte_in_last_record_is_cut() {
    let src = TempDir::new("flip-last-src");
    let last = build_log(&src.wal(), 12, 1 << 20);
    let data = fs::read(&last).unwrap();
    let offsets = record_offsets(&data);
    let last_start = *offsets.last().unwrap();

    for pos in last_start..data.len() {
        let t = TempDir::new("flip-last");
        fs::create_dir_all(t.wal()).unwrap();
        let mut bad = data.clone();
        bad[pos] ^= 0x5a;
        let target = t.wal().join(last.file_name().unwrap());
        fs::write(&target, &bad).unwrap();

        let (mut wal, rec) = open(&t.wal(), 1 << 20);
        assert_eq!(rec.records, expected(1..=11), "flip at {pos}");
        assert!(rec.truncated.is_some());
        assert_eq!(fs::metadata(&target).unwrap().len(), last_start as u64);
        wal.write_batch(&[(12, 1, b"again")]).unwrap();
        drop(wal);
        let (_, rec) = open(&t.wal(), 1 << 20);
        assert_eq!(rec.records.len(), 12);
        assert_eq!(rec.truncated, None);
    }
}

#[test]
fn flipped_byte_in_middle_is_corrupt() {
    let src = TempDir::new("flip-mid-src");
    let last = build_log(&src.wal(), 12, 1 << 20);
    let data = fs::read(&last).unwrap();
    let offsets = record_offsets(&data);
    let (start, end) = (offsets[4], offsets[5]);

    let t = TempDir::new("flip-mid");
    fs::create_dir_all(t.wal()).unwrap();
    let target = t.wal().join(last.file_name().unwrap());
    for pos in start..end {
        let mut bad = data.clone();
        bad[pos] ^= 0x01;
        fs::write(&target, &bad).unwrap();
        let err = Wal::open(config(&t.wal(), 1 << 20)).unwrap_err();
        match &err {
            WalError::Corrupt { file, offset, .. } => {
                assert_eq!(file, &target);
                assert_eq!(*offset, start as u64, "flip at {pos}");
            }
            other => panic!("flip at {pos}: expected Corrupt, got {other:?}"),
        }
        let e = amelie_common::Error::from(err);
        assert_eq!(e.kind(), amelie_common::ErrorKind::Io);
        let msg = e.msg().to_string();
        assert!(msg.contains("00000000000000000001.wal"), "{msg}");
        assert!(msg.contains("corrupt"), "{msg}");
        // Nothing was modified.
        assert_eq!(fs::read(&target).unwrap(), bad);
        // The streaming reader refuses too.
        let res = Wal::read_dir(&t.wal(), |_| Ok::<(), WalError>(()));
        assert!(matches!(res, Err(WalError::Corrupt { .. })));
    }
}

#[test]
fn damage_in_non_last_file_is_corrupt() {
    let src = TempDir::new("nonlast-src");
    build_log(&src.wal(), 40, 200);
    let files = file_paths(&src.wal());
    assert!(files.len() > 2);
    let first = &files[0];
    let data = fs::read(first).unwrap();
    let offsets = record_offsets(&data);
    let last_start = *offsets.last().unwrap();

    // Flipped byte in the last record of the first file.
    let t = TempDir::new("nonlast");
    fs::create_dir_all(t.wal()).unwrap();
    for f in &files {
        fs::copy(f, t.wal().join(f.file_name().unwrap())).unwrap();
    }
    let target = t.wal().join(first.file_name().unwrap());
    let mut bad = data.clone();
    bad[data.len() - 1] ^= 0xff;
    fs::write(&target, &bad).unwrap();
    match Wal::open(config(&t.wal(), 200)).unwrap_err() {
        WalError::Corrupt { file, offset, .. } => {
            assert_eq!(file, target);
            assert_eq!(offset, last_start as u64);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }

    // Truncated first file.
    fs::write(&target, &data[..data.len() - 3]).unwrap();
    assert!(matches!(
        Wal::open(config(&t.wal(), 200)).unwrap_err(),
        WalError::Corrupt { file, .. } if file == target
    ));

    // Truncated header of a non-last file.
    fs::write(&target, &data[..5]).unwrap();
    assert!(matches!(
        Wal::open(config(&t.wal(), 200)).unwrap_err(),
        WalError::Corrupt { file, offset: 0, .. } if file == target
    ));
}

#[test]
fn bad_magic_and_version() {
    let t = TempDir::new("magic");
    let last = build_log(&t.wal(), 3, 1 << 20);
    let data = fs::read(&last).unwrap();

    let mut bad = data.clone();
    bad[0] = b'X';
    fs::write(&last, &bad).unwrap();
    let err = Wal::open(config(&t.wal(), 1 << 20)).unwrap_err();
    assert!(
        matches!(&err, WalError::BadMagic { file } if *file == last),
        "{err:?}"
    );
    assert!(err.to_string().contains("bad magic"));

    let mut bad = data.clone();
    bad[8..12].copy_from_slice(&7u32.to_le_bytes());
    fs::write(&last, &bad).unwrap();
    let err = Wal::open(config(&t.wal(), 1 << 20)).unwrap_err();
    assert!(
        matches!(
            &err,
            WalError::Version {
                found: 7,
                expected: 1,
                ..
            }
        ),
        "{err:?}"
    );

    // A garbage short file is not a torn header.
    fs::write(&last, b"hello").unwrap();
    let err = Wal::open(config(&t.wal(), 1 << 20)).unwrap_err();
    assert!(matches!(err, WalError::BadMagic { .. }), "{err:?}");
}

#[test]
fn torn_file_header_of_last_file_is_reset() {
    let t = TempDir::new("torn-header");
    let (mut wal, _) = open(&t.wal(), 100);
    write_range(&mut wal, 1, 20, 2);
    let cur = wal.current_path();
    let first_lsn = wal.files().last().unwrap().0;
    drop(wal);
    // Simulate a crash while creating the current file.
    let header = format::file_header();
    for len in 0..FILE_HEADER_SIZE {
        fs::write(&cur, &header[..len]).unwrap();
        let (mut wal, rec) = open(&t.wal(), 100);
        assert!(rec.truncated.is_some());
        let kept: Vec<u64> = rec.records.iter().map(|r| r.lsn).collect();
        assert_eq!(kept, (1..first_lsn).collect::<Vec<_>>());
        assert_eq!(wal.last_lsn(), first_lsn - 1);
        assert_eq!(fs::metadata(&cur).unwrap().len(), FILE_HEADER_SIZE as u64);
        wal.write_batch(&[(first_lsn, 1, b"x")]).unwrap();
        drop(wal);
        let (_, rec) = open(&t.wal(), 100);
        assert_eq!(rec.records.last().unwrap().lsn, first_lsn);
        assert_eq!(rec.truncated, None);
        fs::write(&cur, format::file_header()).unwrap();
    }
}

#[test]
fn zero_filled_tail_is_cut() {
    let t = TempDir::new("zeros");
    let last = build_log(&t.wal(), 5, 1 << 20);
    let mut data = fs::read(&last).unwrap();
    let len = data.len();
    data.extend_from_slice(&[0u8; 4096]);
    fs::write(&last, &data).unwrap();
    let (_, rec) = open(&t.wal(), 1 << 20);
    assert_eq!(rec.records, expected(1..=5));
    assert!(rec.truncated.unwrap().contains("4096 bytes"));
    assert_eq!(fs::metadata(&last).unwrap().len(), len as u64);
}

#[test]
fn read_dir_reports_but_does_not_repair() {
    let t = TempDir::new("readdir");
    let last = build_log(&t.wal(), 5, 1 << 20);
    let data = fs::read(&last).unwrap();
    fs::write(&last, &data[..data.len() - 2]).unwrap();
    let mut n = 0;
    let summary = read_dir(&t.wal(), |_| {
        n += 1;
        Ok::<(), amelie_common::Error>(())
    })
    .unwrap();
    assert_eq!(n, 4);
    assert_eq!(summary.last_lsn, 4);
    assert!(summary.damage.is_some());
    assert_eq!(fs::metadata(&last).unwrap().len(), data.len() as u64 - 2);

    // Callback errors are propagated.
    let err = read_dir(&t.wal(), |r| {
        if r.lsn == 2 {
            Err(amelie_common::Error::new("stop"))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert_eq!(err.msg(), "stop");

    // A missing directory is an empty log.
    let summary = read_dir(&t.path().join("missing"), |_| Ok::<(), WalError>(())).unwrap();
    assert_eq!(summary, ReadSummary::default());
}

#[test]
fn foreign_files_are_ignored() {
    let t = TempDir::new("foreign");
    build_log(&t.wal(), 3, 1 << 20);
    fs::write(t.wal().join("notes.txt"), b"hi").unwrap();
    fs::write(t.wal().join("1.wal"), b"junk").unwrap();
    let (_, rec) = open(&t.wal(), 1 << 20);
    assert_eq!(rec.records, expected(1..=3));
}

#[test]
fn remove_below() {
    let t = TempDir::new("remove");
    let (mut wal, _) = open(&t.wal(), 150);
    write_range(&mut wal, 1, 60, 2);
    let before = wal.file_infos().to_vec();
    assert!(before.len() > 3);

    // Nothing is entirely below lsn 1.
    assert_eq!(wal.remove_below(1).unwrap(), 0);

    // Files whose last record is below the third file's last record go.
    let cut = before[2].last_lsn.unwrap();
    let removed = wal.remove_below(cut).unwrap();
    assert_eq!(removed, 2);
    assert_eq!(wal.file_infos(), &before[2..]);
    assert_eq!(file_paths(&t.wal()).len(), before.len() - 2);

    // Removing everything keeps the current file.
    let removed = wal.remove_below(u64::MAX).unwrap();
    assert_eq!(removed, before.len() - 3);
    assert_eq!(wal.files().len(), 1);
    wal.close().unwrap();

    let (mut wal, rec) = open(&t.wal(), 150);
    assert_eq!(rec.last_lsn, 60);
    let first = rec.records.first().map(|r| r.lsn).unwrap_or(61);
    assert_eq!(rec.records, expected(first..=60));

    // A log reduced to a header-only file still remembers its position.
    if wal.file_infos().last().unwrap().last_lsn.is_some() {
        wal.rotate().unwrap();
    }
    wal.remove_below(u64::MAX).unwrap();
    assert_eq!(wal.files(), vec![(61, FILE_HEADER_SIZE as u64)]);
    drop(wal);
    let (mut wal, rec) = open(&t.wal(), 150);
    assert!(rec.records.is_empty());
    assert_eq!(rec.last_lsn, 60);
    assert!(wal.write_batch(&[(60, 1, b"")]).is_err());
    wal.write_batch(&[(61, 1, b"")]).unwrap();
}

#[test]
fn slots_hold_files_back() {
    let t = TempDir::new("slots");
    let (mut wal, _) = open(&t.wal(), 150);
    write_range(&mut wal, 1, 60, 2);
    let before = wal.file_infos().to_vec();
    assert!(before.len() > 4);
    // a slot at the third file's first LSN keeps it and everything after it
    let slot = wal.slots().create(before[2].first_lsn, Some(7));
    assert_eq!(wal.slots().count(), 1);
    assert_eq!(wal.remove_below(u64::MAX).unwrap(), 2);
    assert_eq!(wal.file_infos(), &before[2..]);
    assert_eq!(file_paths(&t.wal()).len(), before.len() - 2);
    // the files stay while the slot is held, also after more writes
    write_range(&mut wal, 61, 80, 2);
    assert_eq!(wal.remove_below(u64::MAX).unwrap(), 0);
    assert_eq!(wal.file_infos()[0], before[2]);
    // moving the slot forward lets the files below it go
    slot.advance(before[4].first_lsn);
    assert_eq!(wal.remove_below(u64::MAX).unwrap(), 2);
    assert_eq!(wal.file_infos()[0], before[4]);
    // released: only the current file stays
    drop(slot);
    assert_eq!(wal.slots().count(), 0);
    wal.remove_below(u64::MAX).unwrap();
    assert_eq!(wal.files().len(), 1);
}

#[test]
fn sync_options_and_stats() {
    let t = TempDir::new("sync");
    let cfg = WalConfig {
        dir: t.wal(),
        rotate_wm: 200,
        sync_on_rotate: true,
        sync_on_write: true,
    };
    let (mut wal, _) = Wal::open(cfg.clone()).unwrap();
    write_range(&mut wal, 1, 20, 1);
    let s = wal.stats();
    assert_eq!(s.writes, 20);
    assert_eq!(s.records, 20);
    assert_eq!(s.syncs, 20);
    let framed: u64 = (1..=20u64)
        .map(|l| (RECORD_HEADER_SIZE + body(l).len()) as u64)
        .sum();
    assert_eq!(s.bytes, framed);
    assert!(s.rotations > 0);
    assert_eq!(s.rotate_failures, 0);
    assert_eq!(wal.rotate_error(), None);
    wal.sync().unwrap();
    assert_eq!(wal.stats().syncs, 20);
    wal.close().unwrap();
    let (_, rec) = Wal::open(cfg).unwrap();
    assert_eq!(rec.records, expected(1..=20));
}

#[test]
fn explicit_rotate() {
    let t = TempDir::new("rotate");
    let (mut wal, _) = open(&t.wal(), 1 << 20);
    wal.rotate().unwrap(); // empty current file: no-op
    assert_eq!(wal.files().len(), 1);
    write_range(&mut wal, 1, 3, 3);
    wal.rotate().unwrap();
    assert_eq!(
        wal.files().iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![1, 4]
    );
    write_range(&mut wal, 4, 5, 1);
    drop(wal);
    let (_, rec) = open(&t.wal(), 1 << 20);
    assert_eq!(rec.records, expected(1..=5));
}

#[test]
fn encode_decode() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Op {
        Insert { table: u32, row: Vec<u8> },
        Delete(u64),
    }
    let ops = vec![
        Op::Insert {
            table: 3,
            row: vec![1, 2, 3],
        },
        Op::Delete(42),
    ];
    let bytes = encode(&ops);
    assert_eq!(decode::<Vec<Op>>(&bytes).unwrap(), ops);
    let mut buf = vec![0xaa];
    encode_into(&ops, &mut buf).unwrap();
    assert_eq!(&buf[1..], &bytes[..]);
    let err = decode::<Vec<Op>>(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(err, WalError::Decode(_)));
    let e = amelie_common::Error::from(err);
    assert_eq!(e.kind(), amelie_common::ErrorKind::Internal);
    let msg = e.msg().to_string();
    assert!(msg.starts_with("wal: failed to decode"), "{msg}");
}

#[test]
fn file_names() {
    assert_eq!(format::file_name(1), "00000000000000000001.wal");
    assert_eq!(format::parse_file_name("00000000000000000001.wal"), Some(1));
    assert_eq!(
        format::parse_file_name(&format::file_name(u64::MAX)),
        Some(u64::MAX)
    );
    assert_eq!(format::parse_file_name("1.wal"), None);
    assert_eq!(format::parse_file_name("0000000000000000000a.wal"), None);
    assert_eq!(format::parse_file_name("00000000000000000001.log"), None);
    assert_eq!(format::parse_file_name("99999999999999999999.wal"), None);
}

#[test]
fn buffer_is_reused() {
    let t = TempDir::new("reuse");
    let (mut wal, _) = open(&t.wal(), 1 << 30);
    let body = [7u8; 100];
    let recs: Vec<(u64, u32, &[u8])> = (1..=32).map(|l| (l, 1, &body[..])).collect();
    wal.write_batch(&recs).unwrap();
    let cap = wal.buf_capacity();
    for round in 1..10u64 {
        let recs: Vec<(u64, u32, &[u8])> =
            (1..=32).map(|l| (round * 32 + l, 1, &body[..])).collect();
        wal.write_batch(&recs).unwrap();
        assert_eq!(wal.buf_capacity(), cap);
    }
}

// ---- the tail reader (`read_after`) ----

/// Every record `read_after` returns from `after` on, in batches of `max_bytes`.
fn tail_all(dir: &Path, mut after: u64, max_bytes: usize) -> Vec<WalRecord> {
    let mut out = Vec::new();
    loop {
        let batch = read_after(dir, after, max_bytes).unwrap();
        let Some(last) = batch.last() else {
            return out;
        };
        after = last.lsn;
        out.extend(batch);
    }
}

#[test]
fn tail_reads_across_rotated_files() {
    let tmp = TempDir::new("tail-rotate");
    let (mut wal, _) = open(&tmp.wal(), 200);
    write_range(&mut wal, 1, 60, 3);
    assert!(wal.files().len() > 3, "{:?}", wal.files());
    assert_eq!(tail_all(&tmp.wal(), 0, usize::MAX), expected(1..=60));
    assert_eq!(
        read_after(&tmp.wal(), 0, usize::MAX).unwrap(),
        expected(1..=60)
    );
}

#[test]
fn tail_from_the_middle_of_a_file() {
    let tmp = TempDir::new("tail-middle");
    let (mut wal, _) = open(&tmp.wal(), 300);
    write_range(&mut wal, 1, 40, 2);
    let files = wal.files();
    // an `after` strictly inside the second file
    let second = files[1].0;
    let after = second + 1;
    assert!(files[2].0 > after + 1);
    assert_eq!(
        read_after(&tmp.wal(), after, usize::MAX).unwrap(),
        expected(after + 1..=40)
    );
    // `after` just before a file's first record
    assert_eq!(
        read_after(&tmp.wal(), second - 1, usize::MAX).unwrap(),
        expected(second..=40)
    );
}

#[test]
fn tail_at_the_end_is_empty() {
    let tmp = TempDir::new("tail-end");
    let (mut wal, _) = open(&tmp.wal(), 1 << 20);
    write_range(&mut wal, 1, 10, 4);
    assert!(read_after(&tmp.wal(), 10, usize::MAX).unwrap().is_empty());
    assert!(read_after(&tmp.wal(), 25, usize::MAX).unwrap().is_empty());
    // and a missing directory is an empty log
    assert!(read_after(&tmp.path().join("none"), 0, 10)
        .unwrap()
        .is_empty());
}

#[test]
fn tail_batches_by_max_bytes() {
    let tmp = TempDir::new("tail-batch");
    let (mut wal, _) = open(&tmp.wal(), 250);
    write_range(&mut wal, 1, 50, 5);
    for max in [0usize, 1, 30, 100, 1000] {
        let mut after = 0;
        let mut all = Vec::new();
        loop {
            let batch = read_after(&tmp.wal(), after, max).unwrap();
            if batch.is_empty() {
                break;
            }
            let bytes: usize = batch.iter().map(|r| r.body.len()).sum();
            // at most max bytes, unless one record alone is larger
            assert!(bytes <= max || batch.len() == 1, "max {max}: {bytes} bytes");
            after = batch.last().unwrap().lsn;
            all.extend(batch);
        }
        assert_eq!(all, expected(1..=50), "max {max}");
    }
    // a batch stops before the record that would pass max_bytes
    let first = read_after(&tmp.wal(), 0, body(1).len() + body(2).len()).unwrap();
    assert_eq!(first, expected(1..=2));
}

#[test]
fn tail_position_reads_on_where_the_last_batch_ended() {
    let tmp = TempDir::new("tail-pos");
    let (mut wal, _) = open(&tmp.wal(), 400);
    write_range(&mut wal, 1, 30, 3);
    assert!(wal.files().len() > 2, "{:?}", wal.files());
    // batches with a kept position give what a scan from the start gives, across files
    let (mut after, mut pos, mut all) = (0, None, Vec::new());
    loop {
        let batch = read_after_at(&tmp.wal(), after, 60, u64::MAX, &mut pos).unwrap();
        if batch.is_empty() {
            break;
        }
        assert_eq!(batch, read_after(&tmp.wal(), after, 60).unwrap());
        let p = pos.expect("a position after a batch");
        after = batch.last().unwrap().lsn;
        assert_eq!(p.lsn, after);
        assert!(wal.files().iter().any(|(first, _)| *first == p.file));
        all.extend(batch);
    }
    assert_eq!(all, expected(1..=30));
    // more records later: read on from the kept position
    write_range(&mut wal, 31, 35, 3);
    assert_eq!(
        read_after_at(&tmp.wal(), 30, usize::MAX, u64::MAX, &mut pos).unwrap(),
        expected(31..=35)
    );
    assert_eq!(pos.unwrap().lsn, 35);
    // `upto` stops before the first record above it; the position stays exact
    let mut pos = None;
    assert_eq!(
        read_after_at(&tmp.wal(), 0, usize::MAX, 7, &mut pos).unwrap(),
        expected(1..=7)
    );
    assert_eq!(pos.unwrap().lsn, 7);
    assert_eq!(
        read_after_at(&tmp.wal(), 7, usize::MAX, 9, &mut pos).unwrap(),
        expected(8..=9)
    );
    // a position for another `after` is not used (a scan finds the records)
    let stale = pos;
    let mut p2 = stale;
    assert_eq!(
        read_after_at(&tmp.wal(), 3, usize::MAX, 5, &mut p2).unwrap(),
        expected(4..=5)
    );
    // a position whose file is gone falls back to the scan, or says outdated
    let mut gone = Some(TailPos {
        file: 999_999,
        offset: 10,
        lsn: 12,
    });
    assert_eq!(
        read_after_at(&tmp.wal(), 12, usize::MAX, 14, &mut gone).unwrap(),
        expected(13..=14)
    );
}

#[test]
fn tail_stops_at_a_torn_tail_and_continues_later() {
    let tmp = TempDir::new("tail-torn");
    let (mut wal, _) = open(&tmp.wal(), 1 << 20);
    write_range(&mut wal, 1, 10, 10);
    let path = wal.current_path();
    drop(wal);
    let full = fs::read(&path).unwrap();
    // cut the last record in its header, then in its body
    let last_len = RECORD_HEADER_SIZE + body(10).len();
    for cut in [last_len - 3, last_len - RECORD_HEADER_SIZE + 2, last_len] {
        fs::write(&path, &full[..full.len() - cut]).unwrap();
        assert_eq!(
            read_after(&tmp.wal(), 0, usize::MAX).unwrap(),
            expected(1..=9),
            "cut {cut}"
        );
        assert!(read_after(&tmp.wal(), 9, usize::MAX).unwrap().is_empty());
    }
    // a checksum mismatch in the very last record: a write not finished yet
    let mut bad = full.clone();
    let at = full.len() - 1;
    bad[at] ^= 0xff;
    fs::write(&path, &bad).unwrap();
    assert_eq!(
        read_after(&tmp.wal(), 5, usize::MAX).unwrap(),
        expected(6..=9)
    );
    // the write completes: the record is read
    fs::write(&path, &full).unwrap();
    assert_eq!(
        read_after(&tmp.wal(), 9, usize::MAX).unwrap(),
        expected(10..=10)
    );
    // a file just created, header not complete yet
    let next = format::file_path(&tmp.wal(), 11);
    fs::write(&next, &format::file_header()[..5]).unwrap();
    assert!(read_after(&tmp.wal(), 10, usize::MAX).unwrap().is_empty());
}

#[test]
fn tail_corruption_is_an_error() {
    let tmp = TempDir::new("tail-corrupt");
    let (mut wal, _) = open(&tmp.wal(), 200);
    write_range(&mut wal, 1, 30, 3);
    let files = wal.files();
    drop(wal);
    // a damaged record in the middle of the last file (valid records follow)
    let one = TempDir::new("tail-corrupt-one");
    let (mut single, _) = open(&one.wal(), 1 << 20);
    write_range(&mut single, 1, 5, 5);
    let current = single.current_path();
    drop(single);
    let mut data = fs::read(&current).unwrap();
    data[FILE_HEADER_SIZE + 4] ^= 0x01;
    fs::write(&current, &data).unwrap();
    let err = read_after(&one.wal(), 0, usize::MAX).unwrap_err();
    assert!(matches!(err, WalError::Corrupt { .. }), "{err}");
    // a torn record in a file that is not the last
    let first = format::file_path(&tmp.wal(), files[0].0);
    let data = fs::read(&first).unwrap();
    fs::write(&first, &data[..data.len() - 2]).unwrap();
    let err = read_after(&tmp.wal(), 0, usize::MAX).unwrap_err();
    assert!(matches!(err, WalError::Corrupt { .. }), "{err}");
}

#[test]
fn tail_behind_removed_files_is_outdated() {
    let tmp = TempDir::new("tail-outdated");
    let (mut wal, _) = open(&tmp.wal(), 200);
    write_range(&mut wal, 1, 40, 2);
    let files = wal.files();
    let removed = wal.remove_below(files[2].0).unwrap();
    assert!(removed >= 2);
    let oldest = wal.files()[0].0;
    let err = read_after(&tmp.wal(), 0, 100).unwrap_err();
    assert!(
        matches!(err, WalError::Outdated { lsn: 1, oldest: o } if o == oldest),
        "{err}"
    );
    let err = read_after(&tmp.wal(), oldest - 2, 100).unwrap_err();
    assert!(matches!(err, WalError::Outdated { .. }), "{err}");
    // from the oldest file's first record on, the log still has everything
    assert_eq!(tail_all(&tmp.wal(), oldest - 1, 64), expected(oldest..=40));
    let e: amelie_common::Error = err.into();
    assert_eq!(e.kind(), amelie_common::ErrorKind::Replication);
}

/// A reader following a log that is being written and rotated sees every record once, in
/// order, and never an error.
#[test]
fn tail_follows_a_log_being_written() {
    let tmp = TempDir::new("tail-live");
    let (mut wal, _) = open(&tmp.wal(), 512);
    let dir = tmp.wal();
    let last = 1500u64;
    std::thread::scope(|scope| {
        scope.spawn(move || write_range(&mut wal, 1, last, 7));
        let mut after = 0;
        let mut got = Vec::new();
        while after < last {
            let batch = read_after(&dir, after, 300).unwrap();
            if let Some(r) = batch.last() {
                after = r.lsn;
            }
            got.extend(batch);
        }
        assert_eq!(got, expected(1..=last));
    });
}
