//! Interop with ExifTool: labels Warden writes into PNG, JPEG and WebP files are read back by
//! `exiftool` as the TC260 XMP property (`XMP-TC260:AIGC`, printed as `Aigc`), the files pass
//! `exiftool -validate`, and files whose XMP packet ExifTool has rewritten still read back in
//! Warden and keep ExifTool's other properties when Warden relabels them.
//!
//! ExifTool is required: without it these tests fail and say how to install it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use warden_mark::Format;

const VALUE: &str = r#"{"Label":"1","ContentProducer":"001191110108MA01KP2T5U00000","ProduceID":"a&b<c>","ReservedCode1":"","ContentPropagator":"","PropagateID":"","ReservedCode2":""}"#;

/// Run exiftool with `args` on `file` and return its standard output.
fn run_exiftool(args: &[&str], file: &Path) -> Vec<u8> {
    let output = match Command::new("exiftool").args(args).arg(file).output() {
        Ok(output) => output,
        Err(error) => panic!(
            "cannot run exiftool ({error}): install Debian's libimage-exiftool-perl (scripts/test does)"
        ),
    };
    assert!(
        output.status.success(),
        "exiftool {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Run exiftool with `-j` and `args` and return its object for `file`.
fn exiftool(args: &[&str], file: &Path) -> Value {
    let json: Value =
        serde_json::from_slice(&run_exiftool(&[&["-j"], args].concat(), file)).unwrap();
    json[0].clone()
}

fn sample(format: image::ImageFormat) -> Vec<u8> {
    let mut pixels = image::RgbImage::new(16, 8);
    for (x, y, pixel) in pixels.enumerate_pixels_mut() {
        *pixel = image::Rgb([x as u8 * 16, y as u8 * 32, 128]);
    }
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(pixels)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// A 1x1 lossless WebP: VP8L header, then five one-symbol prefix codes.
fn sample_webp() -> Vec<u8> {
    let mut bits = vec![false, false, false];
    for symbol in [0x20u8, 0x40, 0x60, 0xff, 0] {
        bits.extend([true, false, true]);
        bits.extend((0..8).map(|bit| symbol >> bit & 1 == 1));
    }
    let mut vp8l = vec![0x2f, 0, 0, 0, 0x10];
    vp8l.extend(bits.chunks(8).map(|byte| {
        byte.iter()
            .rev()
            .fold(0u8, |acc, &bit| acc << 1 | u8::from(bit))
    }));
    let mut chunk = b"VP8L".to_vec();
    chunk.extend_from_slice(&(vp8l.len() as u32).to_le_bytes());
    chunk.extend_from_slice(&vp8l);
    if vp8l.len() % 2 == 1 {
        chunk.push(0);
    }
    let mut webp = b"RIFF".to_vec();
    webp.extend_from_slice(&(chunk.len() as u32 + 4).to_le_bytes());
    webp.extend_from_slice(b"WEBP");
    webp.extend_from_slice(&chunk);
    webp
}

fn label(format: Format, input: &[u8], value: &str) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    warden_mark::formats::write(format, &mut Cursor::new(input), &mut out, value).unwrap();
    out.into_inner()
}

fn cases() -> Vec<(Format, &'static str, Vec<u8>)> {
    vec![
        (Format::Png, "labelled.png", sample(image::ImageFormat::Png)),
        (
            Format::Jpeg,
            "labelled.jpg",
            sample(image::ImageFormat::Jpeg),
        ),
        (Format::Webp, "labelled.webp", sample_webp()),
    ]
}

#[test]
fn exiftool_reads_the_labels_warden_writes() {
    let dir = tempfile::tempdir().unwrap();
    for (format, name, original) in cases() {
        let path = dir.path().join(name);
        std::fs::write(&path, label(format, &original, VALUE)).unwrap();
        let tags = exiftool(&["-XMP-TC260:all"], &path);
        assert_eq!(tags["Aigc"], VALUE, "{name}: {tags}");
        let validation = exiftool(&["-validate", "-warning", "-error", "-a"], &path);
        assert_eq!(validation["Validate"], "OK", "{name}: {validation}");
    }
}

#[test]
fn warden_reads_and_updates_packets_exiftool_rewrote() {
    let dir = tempfile::tempdir().unwrap();
    for (format, name, original) in cases() {
        let path = dir.path().join(name);
        std::fs::write(&path, label(format, &original, "first")).unwrap();
        run_exiftool(&["-q", "-overwrite_original", "-XMP-dc:Creator=Ann"], &path);
        let rewritten = std::fs::read(&path).unwrap();
        let values = warden_mark::formats::read(format, &mut Cursor::new(&rewritten)).unwrap();
        assert_eq!(values, vec!["first".to_owned()], "{name}");

        std::fs::write(&path, label(format, &rewritten, VALUE)).unwrap();
        let tags = exiftool(&["-XMP-TC260:all", "-XMP-dc:Creator"], &path);
        assert_eq!(tags["Aigc"], VALUE, "{name}: {tags}");
        assert_eq!(tags["Creator"], "Ann", "{name}: {tags}");
    }
}
