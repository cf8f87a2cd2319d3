//! Interoperability of the document labels with independent tools.
//!
//! - DOCX: a labelled package opens in python-docx (Debian's `python3-docx`), python-docx finds
//!   the custom-properties part through the package relationship with the right content type, and
//!   Python's `zipfile` + `xml.etree` read the `AIGC` property back unchanged. python-docx is
//!   required: the test fails when it is missing.
//! - PDF: a labelled file (classic table, then a second incremental update) passes
//!   `qpdf --check` and poppler's `pdfinfo -custom`, which must show the `AIGC` entry (Debian's
//!   qpdf and poppler-utils; scripts/test installs them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;

use warden_mark::formats::{self, Format};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const VALUE: &str = r#"{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"doc-42&<x>","ReservedCode1":"","ContentPropagator":"001191110102MACQD9K64010000","PropagateID":"doc-42&<x>","ReservedCode2":""}"#;

fn minimal_docx() -> Vec<u8> {
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#,
        ),
        (
            "word/document.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Generated text.</w:t></w:r></w:p></w:body></w:document>"#,
        ),
    ];
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, text) in parts {
        writer.start_file(name, options).unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn minimal_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << >> >>",
        "<< /Title (Interop) /Producer (warden test) >>",
    ];
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f\r\n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n\r\n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn label(format: Format, input: Vec<u8>, value: &str) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    formats::write(format, &mut Cursor::new(input), &mut out, value).unwrap();
    out.into_inner()
}

/// A Python 3 that can import python-docx (Debian's lives in /usr/bin/python3).
fn python_with_docx() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import docx"])
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

const CHECK_DOCX: &str = r#"
import json, sys, zipfile
import xml.etree.ElementTree as ET
import docx

path = sys.argv[1]
document = docx.Document(path)
package = document.part.package
parts = {str(part.partname): part.content_type for part in package.iter_parts()}
ns = {
    "cp": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
    "vt": "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes",
}
with zipfile.ZipFile(path) as archive:
    bad = archive.testzip()
    names = archive.namelist()
    root = ET.fromstring(archive.read("docProps/custom.xml"))
properties = [
    {"name": p.get("name"), "pid": p.get("pid"), "fmtid": p.get("fmtid"), "value": p.find("vt:lpwstr", ns).text}
    for p in root.findall("cp:property", ns)
]
print(json.dumps({
    "paragraphs": [p.text for p in document.paragraphs],
    "custom_part": parts.get("/docProps/custom.xml"),
    "first_entry": names[0],
    "testzip": bad,
    "properties": properties,
}))
"#;

#[test]
fn labelled_docx_opens_in_python_docx_and_the_property_reads_back() {
    let python = python_with_docx().unwrap_or_else(|| {
        panic!("python-docx is missing: install Debian's python3-docx (scripts/test does)")
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labelled.docx");
    std::fs::write(&path, label(Format::Ooxml, minimal_docx(), VALUE)).unwrap();

    let output = Command::new(python)
        .args(["-c", CHECK_DOCX])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("python printed: {stdout}");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["paragraphs"], serde_json::json!(["Generated text."]));
    assert_eq!(
        report["custom_part"],
        "application/vnd.openxmlformats-officedocument.custom-properties+xml"
    );
    assert_eq!(report["first_entry"], "[Content_Types].xml");
    assert!(
        report["testzip"].is_null(),
        "a zip entry fails its CRC: {}",
        report["testzip"]
    );
    assert_eq!(
        report["properties"],
        serde_json::json!([{
            "name": "AIGC",
            "pid": "2",
            "fmtid": "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}",
            "value": VALUE,
        }])
    );
}

fn run_tool(tool: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {tool} ({e}): install Debian's qpdf and poppler-utils (scripts/test does)"
        )
    })
}

fn check_pdf_with_tools(path: &Path) {
    let output = run_tool("qpdf", &["--check".as_ref(), path.as_os_str()]);
    assert!(
        output.status.success(),
        "qpdf --check failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // poppler's pdfinfo prints custom Info entries with -custom: an independent reader of /AIGC.
    let output = run_tool("pdfinfo", &["-custom".as_ref(), path.as_os_str()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pdfinfo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Interop"),
        "pdfinfo lost the title: {stdout}"
    );
    let aigc = stdout
        .lines()
        .find_map(|line| line.strip_prefix("AIGC:"))
        .unwrap_or_else(|| panic!("pdfinfo -custom shows no AIGC entry: {stdout}"));
    assert_eq!(aigc.trim(), VALUE);
}

#[test]
fn labelled_pdf_stays_valid_for_qpdf_and_pdfinfo_reads_the_label() {
    let original = minimal_pdf();
    let once = label(Format::Pdf, original.clone(), "superseded");
    let twice = label(Format::Pdf, once.clone(), VALUE);
    assert!(twice.starts_with(&once) && once.starts_with(&original));
    let values = formats::read(Format::Pdf, &mut Cursor::new(twice.clone())).unwrap();
    assert_eq!(values, vec![VALUE.to_owned()]);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labelled.pdf");
    std::fs::write(&path, &twice).unwrap();
    check_pdf_with_tools(&path);
}
