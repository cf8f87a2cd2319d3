//! Interop for the audio and video containers: real WAV, MP3 and MP4/M4A files made by Debian's
//! ffmpeg are labelled with `warden_mark::formats::{wav,mp3,mp4}::write`, then ffprobe must show
//! the `AIGC` tag (MP3 `TXXX:AIGC`, MP4 `mdta` key `AIGC`), other tags must survive, and ffmpeg
//! must decode the labelled file without errors to exactly the same media as the original.
//!
//! These tests need `ffmpeg` and `ffprobe` on `PATH` and fail without them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use warden_mark::formats::{mp3, mp4, wav};
use warden_mark::{AigcLabel, Generated, MarkError};

type Writer = fn(&mut File, &mut File, &str) -> Result<(), MarkError>;
type Reader = fn(&mut File) -> Result<Vec<String>, MarkError>;
/// File name, input arguments, output arguments, tags that must survive.
type Mp4Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn label_value() -> String {
    AigcLabel::new(
        Generated::Is,
        "001191110108MA01KP2T00000",
        "warden-interop-1",
    )
    .unwrap()
    .to_json()
}

/// Run `tool` with `args`; panic with its stderr when it fails or is missing.
fn run(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} not found ({e}): install Debian's ffmpeg (scripts/test does)")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{tool} {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

/// Run ffmpeg quietly with whitespace-separated `args`, writing `output`.
fn ffmpeg(args: &str, output: &Path) {
    let mut all: Vec<&str> = "-v error -y -nostdin".split_whitespace().collect();
    all.extend(args.split_whitespace());
    all.push(output.to_str().unwrap());
    run("ffmpeg", &all);
}

/// The format-level tags as ffprobe reports them.
fn probe_tags(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let json = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format_tags",
            "-of",
            "json",
            path.to_str().unwrap(),
        ],
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["format"]["tags"]
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// MD5 of the decoded media, and proof that decoding reports no error.
fn decoded_md5(path: &Path) -> String {
    let p = path.to_str().unwrap();
    let output = Command::new("ffmpeg")
        .args([
            "-v", "error", "-nostdin", "-i", p, "-map", "0", "-f", "md5", "-",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "ffmpeg could not decode {p} cleanly: {stderr}"
    );
    String::from_utf8(output.stdout).unwrap()
}

fn label_file(write: Writer, input: &Path, output: &Path, value: &str) {
    let mut source = File::open(input).unwrap();
    let mut target = File::create(output).unwrap();
    write(&mut source, &mut target, value).unwrap();
}

fn read_file(read: Reader, path: &Path) -> Vec<String> {
    read(&mut File::open(path).unwrap()).unwrap()
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        // Fail early, with the install hint, when the tools are missing.
        run("ffprobe", &["-version"]);
        run("ffmpeg", &["-version"]);
        Case {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Label `original` twice (to check replacement) and check what every reader sees.
    fn label(&self, original: &Path, labelled: &str, write: Writer, read: Reader) -> PathBuf {
        let value = label_value();
        let first = self.path(&format!("first-{labelled}"));
        label_file(write, original, &first, "{\"stale\":\"label\"}");
        let out = self.path(labelled);
        label_file(write, &first, &out, &value);
        assert_eq!(read_file(read, &out), vec![value]);
        assert_eq!(
            decoded_md5(&out),
            decoded_md5(original),
            "{labelled} decodes to different media"
        );
        out
    }
}

#[test]
fn wav_from_ffmpeg() {
    let case = Case::new();
    let original = case.path("sine.wav");
    ffmpeg(
        "-f lavfi -i sine=frequency=440:duration=1 -metadata title=Sine",
        &original,
    );
    assert!(read_file(wav::read, &original).is_empty());
    let out = case.label(&original, "sine.wav", wav::write, wav::read);
    let tags = probe_tags(&out);
    eprintln!("ffprobe WAV tags: {tags:?}");
    assert_eq!(
        tags.get("title").and_then(|v| v.as_str()),
        Some("Sine"),
        "LIST/INFO survives"
    );
}

fn check_tags(path: &Path, expect: &[(&str, &str)]) {
    let tags = probe_tags(path);
    eprintln!(
        "ffprobe tags of {}: {tags:?}",
        path.file_name().unwrap().to_string_lossy()
    );
    assert_eq!(
        tags.get("AIGC").and_then(|v| v.as_str()),
        Some(label_value().as_str())
    );
    for (key, value) in expect {
        assert_eq!(
            tags.get(*key).and_then(|v| v.as_str()),
            Some(*value),
            "tag {key}"
        );
    }
}

#[test]
fn mp3_from_ffmpeg() {
    let case = Case::new();
    for (name, id3) in [("v24.mp3", "4"), ("v23.mp3", "3"), ("none.mp3", "0")] {
        let original = case.path(&format!("orig-{name}"));
        let args = format!(
            "-f lavfi -i sine=frequency=440:duration=1 -c:a libmp3lame -id3v2_version {id3} -metadata title=Sine -metadata Mood=calm"
        );
        ffmpeg(&args, &original);
        assert!(read_file(mp3::read, &original).is_empty());
        let out = case.label(&original, name, mp3::write, mp3::read);
        if id3 == "0" {
            check_tags(&out, &[]);
        } else {
            check_tags(&out, &[("title", "Sine"), ("Mood", "calm")]);
        }
    }
}

#[test]
fn mp4_from_ffmpeg() {
    let case = Case::new();
    let video = "-f lavfi -i testsrc=duration=1:size=64x64:rate=10 -c:v mpeg4";
    let audio = "-f lavfi -i sine=frequency=440:duration=1 -c:a aac";
    let cases: [Mp4Case; 4] = [
        (
            "end.mp4",
            video,
            "-metadata title=Clip",
            &[("title", "Clip")],
        ),
        (
            "faststart.mp4",
            video,
            "-movflags +faststart -metadata title=Clip",
            &[("title", "Clip")],
        ),
        // ffmpeg's own mdta metadata, AIGC included: its other keys must survive.
        (
            "mdta.mp4",
            video,
            "-movflags +faststart+use_metadata_tags -metadata AIGC={} -metadata other=kept",
            &[("other", "kept")],
        ),
        (
            "faststart.m4a",
            audio,
            "-movflags +faststart -metadata title=Tone",
            &[("title", "Tone")],
        ),
    ];
    for (name, input, extra, expect) in cases {
        let original = case.path(&format!("orig-{name}"));
        ffmpeg(&format!("{input} {extra}"), &original);
        let before = read_file(mp4::read, &original);
        assert!(before.is_empty() || before == ["{}"], "{name}: {before:?}");
        let out = case.label(&original, name, mp4::write, mp4::read);
        check_tags(&out, expect);
    }
}
