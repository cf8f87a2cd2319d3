//! Office Open XML packages (DOCX, XLSX, PPTX): the label is a custom document property, as the
//! TC260 text guide (20258A) places it.
//!
//! The property lives in the custom-properties part (`docProps/custom.xml`):
//!
//! ```xml
//! <Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
//!             xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">
//!   <property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="AIGC">
//!     <vt:lpwstr>{"Label":"1",…}</vt:lpwstr>
//!   </property>
//! </Properties>
//! ```
//!
//! Word, Excel and PowerPoint show it under File › Properties › Custom and keep it on save.
//!
//! Writing copies every other zip entry with its compressed bytes untouched
//! ([`zip::ZipWriter::raw_copy_file`]), so document parts stay byte-identical. Only three parts
//! may be rewritten: the custom-properties part (the `AIGC` property replaced, duplicates
//! removed, every other property kept, property ids kept unique), and, when the package had no
//! custom-properties part yet, `[Content_Types].xml` (a new `Override`) and `_rels/.rels` (a new
//! relationship). `[Content_Types].xml` is always written first, as Office expects.
//!
//! Out of scope: encrypted (password-protected) Office files, which are OLE compound files rather
//! than zip packages; UTF-16 encoded XML parts; strict-OOXML relationship types; custom
//! properties of other types than text (they are read as their text). XML parts read are capped
//! at 16 MiB.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};

use quick_xml::Reader;
use quick_xml::events::Event;
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::error::MarkError;
use crate::xmp;

const FORMAT: &str = "Office Open XML";
/// Largest XML part read.
const MAX_PART: u64 = 16 << 20;
const CONTENT_TYPES: &str = "[Content_Types].xml";
const PACKAGE_RELS: &str = "_rels/.rels";
const DEFAULT_CUSTOM: &str = "docProps/custom.xml";
const CUSTOM_REL_TYPE: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties";
const CUSTOM_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.custom-properties+xml";
const CUSTOM_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties";
const VT_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes";
/// The format id every user-defined custom property uses.
const FMTID: &str = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}";
const NAME: &str = "AIGC";

/// Every label value in the file.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let mut archive = open(input)?;
    let rels = match index_of(&archive, PACKAGE_RELS) {
        Some(index) => Some(read_part(&mut archive, index, PACKAGE_RELS)?),
        None => None,
    };
    let part = match &rels {
        Some(rels) => custom_part_name(&rels.text)?,
        None => DEFAULT_CUSTOM.to_owned(),
    };
    let Some(index) = index_of(&archive, &part) else {
        return Ok(Vec::new());
    };
    let custom = read_part(&mut archive, index, &part)?;
    let parsed = parse_custom(&custom.text, &part)?;
    Ok(parsed
        .properties
        .into_iter()
        .filter(|property| property.is_label())
        .map(|property| property.value.unwrap_or_default())
        .collect())
}

/// Copy with exactly one label holding `value`.
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    if let Some(bad) = value.chars().find(|c| !xml_char(*c)) {
        return Err(MarkError::InvalidLabel(format!(
            "the value holds U+{:04X}, which XML 1.0 (and so an Office document) cannot hold",
            u32::from(bad)
        )));
    }
    let mut archive = open(input)?;
    let types_index = index_of(&archive, CONTENT_TYPES).ok_or_else(not_ooxml)?;
    let rels_index = index_of(&archive, PACKAGE_RELS).ok_or_else(|| {
        MarkError::corrupt(
            FORMAT,
            "the package has no _rels/.rels, so it names no main document",
        )
    })?;
    let rels = read_part(&mut archive, rels_index, PACKAGE_RELS)?;
    let part = custom_part_name(&rels.text)?;
    let custom_index = index_of(&archive, &part);
    let custom = match custom_index {
        Some(index) => {
            let existing = read_part(&mut archive, index, &part)?;
            existing.with_text(set_property(&existing.text, value, &part)?)
        }
        None => Part {
            text: set_property(&new_custom_part(), value, &part)?,
            bom: false,
            modified: None,
        },
    };
    let new_rels = ensure_relationship(&rels.text, &part)?.map(|text| rels.with_text(text));
    let types = read_part(&mut archive, types_index, CONTENT_TYPES)?;
    let new_types =
        ensure_override(&types.text, &format!("/{part}"))?.map(|text| types.with_text(text));

    let comment: Box<[u8]> = archive.comment().into();
    let mut writer = ZipWriter::new(output);
    writer.set_raw_comment(comment).map_err(write_error)?;
    let order =
        std::iter::once(types_index).chain((0..archive.len()).filter(|i| *i != types_index));
    for index in order {
        let replacement = if index == types_index {
            new_types.as_ref()
        } else if Some(index) == custom_index {
            Some(&custom)
        } else if index == rels_index {
            new_rels.as_ref()
        } else {
            None
        };
        match replacement {
            Some(part) => {
                let name = entry_name(&archive, index);
                write_part(&mut writer, &name, part)?;
            }
            None => {
                let file = archive.by_index_raw(index).map_err(read_error)?;
                writer.raw_copy_file(file).map_err(write_error)?;
            }
        }
    }
    if custom_index.is_none() {
        let stamped = Part {
            modified: types.modified,
            ..custom
        };
        write_part(&mut writer, &part, &stamped)?;
    }
    writer.finish().map_err(write_error)?.flush()?;
    Ok(())
}

/// True for a character XML 1.0 documents may contain.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn not_ooxml() -> MarkError {
    MarkError::Unsupported(
        "a zip archive without [Content_Types].xml is not an Office Open XML package \
         (DOCX, XLSX or PPTX)"
            .into(),
    )
}

fn read_error(error: ZipError) -> MarkError {
    match error {
        ZipError::Io(error) => MarkError::from_read(FORMAT, error),
        ZipError::InvalidArchive(detail) => {
            let lower = detail.to_ascii_lowercase();
            if lower.contains("could not find eocd") || lower.contains("unexpected end") {
                MarkError::truncated(
                    FORMAT,
                    format!(
                        "no zip end-of-central-directory record ({detail}); the file is \
                         truncated or not a zip package"
                    ),
                )
            } else {
                MarkError::corrupt(FORMAT, format!("invalid zip structure: {detail}"))
            }
        }
        ZipError::UnsupportedArchive(detail) => {
            MarkError::Unsupported(format!("a zip package Warden cannot read: {detail}"))
        }
        other => MarkError::corrupt(FORMAT, other.to_string()),
    }
}

fn write_error(error: ZipError) -> MarkError {
    match error {
        ZipError::Io(error) => MarkError::Io(error),
        other => MarkError::corrupt(FORMAT, format!("cannot copy the package: {other}")),
    }
}

fn open<R: Read + Seek>(input: &mut R) -> Result<ZipArchive<&mut R>, MarkError> {
    input.seek(SeekFrom::Start(0))?;
    let archive = ZipArchive::new(input).map_err(read_error)?;
    if index_of(&archive, CONTENT_TYPES).is_none() {
        return Err(not_ooxml());
    }
    Ok(archive)
}

/// The entry named `name`; OPC part names compare case-insensitively.
fn index_of<R: Read + Seek>(archive: &ZipArchive<R>, name: &str) -> Option<usize> {
    let name = name.trim_start_matches('/');
    archive
        .file_names_raw()
        .position(|raw| raw.eq_ignore_ascii_case(name.as_bytes()))
}

fn entry_name<R: Read + Seek>(archive: &ZipArchive<R>, index: usize) -> String {
    archive
        .file_names_raw()
        .nth(index)
        .map(|raw| String::from_utf8_lossy(raw).into_owned())
        .unwrap_or_default()
}

/// An XML part as text, with what is needed to write it back alike.
#[derive(Debug, Clone)]
struct Part {
    text: String,
    bom: bool,
    modified: Option<DateTime>,
}

impl Part {
    fn with_text(&self, text: String) -> Part {
        Part {
            text,
            bom: self.bom,
            modified: self.modified,
        }
    }
}

fn read_part<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    name: &str,
) -> Result<Part, MarkError> {
    let file = archive.by_index(index).map_err(read_error)?;
    let too_big = || {
        MarkError::Unsupported(format!(
            "{name} is over 16 MiB; Warden reads XML parts up to 16 MiB"
        ))
    };
    if file.size() > MAX_PART {
        return Err(too_big());
    }
    let modified = file.last_modified();
    let mut bytes = Vec::new();
    file.take(MAX_PART + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::UnexpectedEof => MarkError::from_read(FORMAT, error),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => {
                MarkError::corrupt(FORMAT, format!("{name} cannot be decompressed: {error}"))
            }
            _ => MarkError::Io(error),
        })?;
    if bytes.len() as u64 > MAX_PART {
        return Err(too_big());
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(MarkError::Unsupported(format!(
            "{name} is UTF-16 encoded; Warden handles UTF-8 package parts"
        )));
    }
    let bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let body = bytes.get(if bom { 3 } else { 0 }..).unwrap_or_default();
    let text = std::str::from_utf8(body)
        .map_err(|_| MarkError::corrupt(FORMAT, format!("{name} is not valid UTF-8")))?
        .to_owned();
    Ok(Part {
        text,
        bom,
        modified,
    })
}

fn write_part<W: Write + Seek>(
    writer: &mut ZipWriter<W>,
    name: &str,
    part: &Part,
) -> Result<(), MarkError> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(part.modified.unwrap_or_default());
    writer.start_file(name, options).map_err(write_error)?;
    if part.bom {
        writer.write_all(b"\xEF\xBB\xBF")?;
    }
    writer.write_all(part.text.as_bytes())?;
    Ok(())
}

fn new_custom_part() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n\
         <Properties xmlns=\"{CUSTOM_NS}\" xmlns:vt=\"{VT_NS}\"></Properties>"
    )
}

// --- XML tags with their byte spans: enough for the three package parts touched here. ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Close,
    Empty,
}

#[derive(Debug, Clone, Copy)]
struct Tag<'a> {
    start: usize,
    end: usize,
    kind: Kind,
    name: &'a str,
    attrs: &'a str,
}

impl<'a> Tag<'a> {
    fn local(&self) -> &'a str {
        self.name
            .rsplit_once(':')
            .map_or(self.name, |(_, local)| local)
    }

    fn prefix(&self) -> Option<&'a str> {
        self.name.split_once(':').map(|(prefix, _)| prefix)
    }

    /// An attribute's unescaped value.
    fn attr(&self, name: &str) -> Result<Option<String>, String> {
        Ok(attributes(self.attrs)?
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| xmp::unescape(value)))
    }
}

/// A reader position as a byte offset.
fn offset(position: u64) -> Result<usize, String> {
    usize::try_from(position).map_err(|_| "a part too large to address".to_owned())
}

/// Every start, end and empty-element tag, in order. The part is tokenised by an XML parser
/// (`quick-xml`), so comments, CDATA sections, processing instructions and the DOCTYPE are
/// skipped whatever they hold, and mismatched or unclosed elements are errors.
fn scan_tags(xml: &str) -> Result<Vec<Tag<'_>>, String> {
    // The reader skips a leading byte-order mark and counts positions after it: add it back.
    let body = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let base = xml.len() - body.len();
    let mut reader = Reader::from_str(body);
    let mut tags = Vec::new();
    let mut depth = 0usize;
    loop {
        let start = offset(reader.buffer_position())? + base;
        let event = reader
            .read_event()
            .map_err(|error| format!("{error} (near byte {})", reader.error_position()))?;
        let end = offset(reader.buffer_position())? + base;
        let kind = match event {
            Event::Start(_) => Kind::Open,
            Event::Empty(_) => Kind::Empty,
            Event::End(_) => Kind::Close,
            Event::Eof => break,
            _ => continue,
        };
        match kind {
            Kind::Open => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            Kind::Empty => {}
        }
        // The parser checked the tag; its name and attributes are sliced from the part so they
        // borrow from it.
        let inner = xml
            .get(start + 1..end.saturating_sub(1))
            .ok_or_else(|| format!("a tag the parser placed outside the part at byte {start}"))?;
        let body = match kind {
            Kind::Close => inner.strip_prefix('/').unwrap_or(inner),
            Kind::Empty => inner.strip_suffix('/').unwrap_or(inner),
            Kind::Open => inner,
        };
        let body = body.trim_start();
        let name_len = body
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(body.len());
        let (name, attrs) = body.split_at(name_len);
        if name.is_empty() {
            return Err(format!("a tag without a name at byte {start}"));
        }
        tags.push(Tag {
            start,
            end,
            kind,
            name,
            attrs,
        });
    }
    if depth > 0 {
        return Err("an element is not closed before the end of the part".to_owned());
    }
    Ok(tags)
}

/// `name="value"` pairs with the values still escaped.
fn attributes(attrs: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut found = Vec::new();
    let mut rest = attrs.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("an attribute without a value in {attrs:?}"))?;
        let name = rest.get(..eq).unwrap_or_default().trim();
        let after = rest.get(eq + 1..).unwrap_or_default().trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let quote = quote.ok_or_else(|| format!("an unquoted attribute value in {attrs:?}"))?;
        let value_and_rest = after.get(1..).unwrap_or_default();
        let end = value_and_rest
            .find(quote)
            .ok_or_else(|| format!("an unterminated attribute value in {attrs:?}"))?;
        found.push((name, value_and_rest.get(..end).unwrap_or_default()));
        rest = value_and_rest
            .get(end + 1..)
            .unwrap_or_default()
            .trim_start();
    }
    Ok(found)
}

/// The root element: its open tag, and the start of its end tag (`None` when self-closing).
struct Root<'a> {
    tag: Tag<'a>,
    close_start: Option<usize>,
}

fn root<'a>(tags: &[Tag<'a>], expected: &str, part: &str) -> Result<Root<'a>, MarkError> {
    let tag = tags
        .iter()
        .find(|tag| tag.kind != Kind::Close)
        .copied()
        .filter(|tag| tag.local() == expected)
        .ok_or_else(|| {
            MarkError::corrupt(FORMAT, format!("{part} has no {expected} root element"))
        })?;
    let close_start = match tag.kind {
        Kind::Empty => None,
        _ => Some(
            tags.iter()
                .rev()
                .find(|close| close.kind == Kind::Close && close.name == tag.name)
                .map(|close| close.start)
                .ok_or_else(|| {
                    MarkError::corrupt(
                        FORMAT,
                        format!("the {expected} element of {part} is not closed"),
                    )
                })?,
        ),
    };
    Ok(Root { tag, close_start })
}

fn xml_error(part: &str) -> impl Fn(String) -> MarkError + '_ {
    move |detail| MarkError::corrupt(FORMAT, format!("{part} is not well-formed XML: {detail}"))
}

/// `xml` with `fragment` added as the root element's last child.
fn append_child(xml: &str, root: &Root<'_>, fragment: &str) -> String {
    let mut out = String::with_capacity(xml.len() + fragment.len() + 16);
    match root.close_start {
        Some(at) => {
            out.push_str(xml.get(..at).unwrap_or_default());
            out.push_str(fragment);
            out.push_str(xml.get(at..).unwrap_or_default());
        }
        None => {
            let open = xml.get(root.tag.start..root.tag.end).unwrap_or_default();
            let open = open.strip_suffix('>').unwrap_or(open).trim_end();
            let open = open.strip_suffix('/').unwrap_or(open);
            out.push_str(xml.get(..root.tag.start).unwrap_or_default());
            out.push_str(open);
            out.push('>');
            out.push_str(fragment);
            out.push_str(&format!("</{}>", root.tag.name));
            out.push_str(xml.get(root.tag.end..).unwrap_or_default());
        }
    }
    out
}

fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}:{local}"),
        None => local.to_owned(),
    }
}

// --- The package relationships and content types. ---

/// Where the custom-properties part is: the package relationship's target, or the usual name.
fn custom_part_name(rels: &str) -> Result<String, MarkError> {
    let tags = scan_tags(rels).map_err(xml_error(PACKAGE_RELS))?;
    for tag in tags
        .iter()
        .filter(|tag| tag.kind != Kind::Close && tag.local() == "Relationship")
    {
        let attr = |name| tag.attr(name).map_err(xml_error(PACKAGE_RELS));
        if attr("Type")?.as_deref() != Some(CUSTOM_REL_TYPE)
            || attr("TargetMode")?.is_some_and(|mode| mode.eq_ignore_ascii_case("External"))
        {
            continue;
        }
        if let Some(target) = attr("Target")? {
            let target = target.trim_start_matches('/').trim_start_matches("./");
            if !target.is_empty() {
                return Ok(target.to_owned());
            }
        }
    }
    Ok(DEFAULT_CUSTOM.to_owned())
}

/// `_rels/.rels` with a custom-properties relationship, or `None` when it already has one.
fn ensure_relationship(rels: &str, part: &str) -> Result<Option<String>, MarkError> {
    let tags = scan_tags(rels).map_err(xml_error(PACKAGE_RELS))?;
    let root = root(&tags, "Relationships", PACKAGE_RELS)?;
    let mut ids = HashSet::new();
    for tag in tags
        .iter()
        .filter(|tag| tag.kind != Kind::Close && tag.local() == "Relationship")
    {
        if tag
            .attr("Type")
            .map_err(xml_error(PACKAGE_RELS))?
            .as_deref()
            == Some(CUSTOM_REL_TYPE)
        {
            return Ok(None);
        }
        if let Some(id) = tag.attr("Id").map_err(xml_error(PACKAGE_RELS))? {
            ids.insert(id);
        }
    }
    let id = (1..)
        .map(|n| format!("rId{n}"))
        .find(|id| !ids.contains(id))
        .unwrap_or_else(|| "rIdAIGC".to_owned());
    let element = format!(
        "<{} Id=\"{id}\" Type=\"{CUSTOM_REL_TYPE}\" Target=\"{}\"/>",
        qualified(root.tag.prefix(), "Relationship"),
        xmp::escape(part)
    );
    Ok(Some(append_child(rels, &root, &element)))
}

/// `[Content_Types].xml` with an `Override` for `part_name`, or `None` when it already has one.
fn ensure_override(types: &str, part_name: &str) -> Result<Option<String>, MarkError> {
    let tags = scan_tags(types).map_err(xml_error(CONTENT_TYPES))?;
    let root = root(&tags, "Types", CONTENT_TYPES)?;
    for tag in tags
        .iter()
        .filter(|tag| tag.kind != Kind::Close && tag.local() == "Override")
    {
        let name = tag.attr("PartName").map_err(xml_error(CONTENT_TYPES))?;
        if name.is_some_and(|name| name.eq_ignore_ascii_case(part_name)) {
            return Ok(None);
        }
    }
    let element = format!(
        "<{} PartName=\"{}\" ContentType=\"{CUSTOM_CONTENT_TYPE}\"/>",
        qualified(root.tag.prefix(), "Override"),
        xmp::escape(part_name)
    );
    Ok(Some(append_child(types, &root, &element)))
}

// --- The custom-properties part. ---

#[derive(Debug, Clone)]
struct Property {
    start: usize,
    end: usize,
    name: String,
    pid: Option<i64>,
    /// The text of the value element, unescaped.
    value: Option<String>,
}

impl Property {
    fn is_label(&self) -> bool {
        self.name.eq_ignore_ascii_case(NAME)
    }
}

struct Custom<'a> {
    root: Root<'a>,
    properties: Vec<Property>,
}

/// Text content: entities decoded, CDATA sections taken literally, markup, comments and
/// processing instructions dropped.
fn text_content(raw: &str) -> String {
    // Positions count after a leading byte-order mark, which the reader skips: keep it as text.
    let mut out = String::new();
    let raw = match raw.strip_prefix('\u{feff}') {
        Some(rest) => {
            out.push('\u{feff}');
            rest
        }
        None => raw,
    };
    let mut reader = Reader::from_str(raw);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    // A parse error ends the text: what came before it is the value.
    while let Ok(start) = offset(reader.buffer_position())
        && let Ok(event) = reader.read_event()
        && let Ok(end) = offset(reader.buffer_position())
    {
        match event {
            Event::Text(_) | Event::GeneralRef(_) => {
                out.push_str(&xmp::unescape(raw.get(start..end).unwrap_or_default()));
            }
            Event::CData(cdata) => out.push_str(&cdata),
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn parse_custom<'a>(xml: &'a str, part: &str) -> Result<Custom<'a>, MarkError> {
    let tags = scan_tags(xml).map_err(xml_error(part))?;
    let root = root(&tags, "Properties", part)?;
    let mut properties = Vec::new();
    let mut iter = tags
        .iter()
        .enumerate()
        .skip_while(|(_, tag)| tag.start < root.tag.end);
    // Each turn sees a direct child of the root: a child's subtree is consumed below.
    while let Some((index, tag)) = iter.next() {
        if tag.kind == Kind::Close || root.close_start.is_some_and(|close| tag.start >= close) {
            break;
        }
        let name = tag
            .attr("name")
            .map_err(xml_error(part))?
            .unwrap_or_default();
        let pid = tag
            .attr("pid")
            .map_err(xml_error(part))?
            .and_then(|pid| pid.trim().parse().ok());
        if tag.kind == Kind::Empty {
            if tag.local() == "property" {
                properties.push(Property {
                    start: tag.start,
                    end: tag.end,
                    name,
                    pid,
                    value: None,
                });
            }
            continue;
        }
        // An open child of the root: find its end tag.
        let mut inner_depth = 1usize;
        let mut close = None;
        for (_, later) in iter.by_ref() {
            match later.kind {
                Kind::Open => inner_depth += 1,
                Kind::Close => {
                    inner_depth -= 1;
                    if inner_depth == 0 {
                        close = Some(*later);
                        break;
                    }
                }
                Kind::Empty => {}
            }
        }
        let close = close.ok_or_else(|| {
            MarkError::corrupt(
                FORMAT,
                format!("a <{}> element in {part} is not closed", tag.name),
            )
        })?;
        if tag.local() != "property" {
            continue;
        }
        // The value: the text of the first child element.
        let value = tags
            .get(index + 1..)
            .and_then(|rest| {
                rest.first()
                    .filter(|child| child.start < close.start)
                    .copied()
            })
            .map(|child| match child.kind {
                Kind::Empty | Kind::Close => String::new(),
                Kind::Open => {
                    let end = tags
                        .get(index + 2..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|t| t.start < close.start)
                        .find(|t| t.kind == Kind::Close && t.name == child.name)
                        .map_or(close.start, |t| t.start);
                    text_content(xml.get(child.end..end).unwrap_or_default())
                }
            });
        properties.push(Property {
            start: tag.start,
            end: close.end,
            name,
            pid,
            value,
        });
    }
    Ok(Custom { root, properties })
}

/// The prefix the root binds to the docPropsVTypes namespace, if any.
fn vt_prefix(root: &Tag<'_>) -> Option<String> {
    attributes(root.attrs)
        .ok()?
        .into_iter()
        .find_map(|(name, value)| {
            let prefix = name.strip_prefix("xmlns:")?;
            (xmp::unescape(value) == VT_NS).then(|| prefix.to_owned())
        })
}

/// Escape text for element content; a CR is kept as a character reference so parsers keep it.
fn escape_text(value: &str) -> String {
    xmp::escape(value).replace('\r', "&#13;")
}

/// `xml` with exactly one `AIGC` property holding `value`; every other property is kept.
fn set_property(xml: &str, value: &str, part: &str) -> Result<String, MarkError> {
    let custom = parse_custom(xml, part)?;
    let others: HashSet<i64> = custom
        .properties
        .iter()
        .filter(|property| !property.is_label())
        .filter_map(|property| property.pid)
        .collect();
    let labels: Vec<&Property> = custom.properties.iter().filter(|p| p.is_label()).collect();
    let pid = labels
        .first()
        .and_then(|label| label.pid)
        .filter(|pid| *pid >= 2 && !others.contains(pid))
        .unwrap_or_else(|| {
            others
                .iter()
                .copied()
                .max()
                .unwrap_or(1)
                .max(1)
                .saturating_add(1)
        });
    let (vt, declaration) = match vt_prefix(&custom.root.tag) {
        Some(prefix) => (prefix, String::new()),
        None => ("vt".to_owned(), format!(" xmlns:vt=\"{VT_NS}\"")),
    };
    let element = format!(
        "<{property} fmtid=\"{FMTID}\" pid=\"{pid}\" name=\"{NAME}\"{declaration}><{vt}:lpwstr>{}</{vt}:lpwstr></{property}>",
        escape_text(value),
        property = qualified(custom.root.tag.prefix(), "property"),
    );
    let Some(first) = labels.first() else {
        return Ok(append_child(xml, &custom.root, &element));
    };
    let mut out = String::with_capacity(xml.len() + element.len());
    out.push_str(xml.get(..first.start).unwrap_or_default());
    out.push_str(&element);
    let mut cursor = first.end;
    for duplicate in labels.iter().skip(1) {
        out.push_str(xml.get(cursor..duplicate.start).unwrap_or_default());
        cursor = duplicate.end;
    }
    out.push_str(xml.get(cursor..).unwrap_or_default());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    const VALUE: &str = r#"{"Label":"1","ContentProducer":"A&B<C>","ProduceID":"x\"y'z","ReservedCode1":"","ContentPropagator":"A","PropagateID":"1","ReservedCode2":""}"#;

    const TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#;
    const DOCUMENT: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello, generated world.</w:t></w:r></w:p></w:body></w:document>"#;

    fn docx(extra: &[(&str, &str)]) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let mut types = TYPES.to_owned();
        let mut rels = RELS.to_owned();
        if extra.iter().any(|(name, _)| *name == DEFAULT_CUSTOM) {
            types = types.replace(
                "</Types>",
                &format!("<Override PartName=\"/docProps/custom.xml\" ContentType=\"{CUSTOM_CONTENT_TYPE}\"/></Types>"),
            );
            rels = rels.replace(
                "</Relationships>",
                &format!("<Relationship Id=\"rId3\" Type=\"{CUSTOM_REL_TYPE}\" Target=\"docProps/custom.xml\"/></Relationships>"),
            );
        }
        for (name, text, options) in [
            (CONTENT_TYPES, types.as_str(), deflated),
            (PACKAGE_RELS, rels.as_str(), deflated),
            ("word/document.xml", DOCUMENT, deflated),
            ("word/media/image1.bin", "\u{1}\u{2}binary-ish", stored),
        ] {
            writer.start_file(name, options).unwrap();
            writer.write_all(text.as_bytes()).unwrap();
        }
        for (name, text) in extra {
            writer.start_file(*name, deflated).unwrap();
            writer.write_all(text.as_bytes()).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn write_to_vec(input: &[u8], value: &str) -> Result<Vec<u8>, MarkError> {
        crate::formats::test_support::write_vec(write, input, value)
    }

    fn read_vec(input: &[u8]) -> Result<Vec<String>, MarkError> {
        crate::formats::test_support::read_vec(read, input)
    }

    fn part(zip: &[u8], name: &str) -> String {
        let mut archive = ZipArchive::new(Cursor::new(zip.to_vec())).unwrap();
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// Name, compression method, CRC and raw compressed bytes of every entry.
    fn raw_entries(zip: &[u8]) -> Vec<(String, CompressionMethod, u32, Vec<u8>)> {
        let mut archive = ZipArchive::new(Cursor::new(zip.to_vec())).unwrap();
        (0..archive.len())
            .map(|index| {
                let mut file = archive.by_index_raw(index).unwrap();
                let mut raw = Vec::new();
                file.read_to_end(&mut raw).unwrap();
                (
                    file.name().unwrap().into_owned(),
                    file.compression(),
                    file.crc32(),
                    raw,
                )
            })
            .collect()
    }

    #[test]
    fn round_trip_adds_the_custom_part_override_and_relationship() {
        let input = docx(&[]);
        assert!(read_vec(&input).unwrap().is_empty());
        let out = write_to_vec(&input, VALUE).unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec![VALUE.to_owned()]);
        let types = part(&out, CONTENT_TYPES);
        assert!(types.contains(&format!(
            "<Override PartName=\"/docProps/custom.xml\" ContentType=\"{CUSTOM_CONTENT_TYPE}\"/></Types>"
        )));
        let rels = part(&out, PACKAGE_RELS);
        assert!(rels.contains(&format!(
            "<Relationship Id=\"rId2\" Type=\"{CUSTOM_REL_TYPE}\" Target=\"docProps/custom.xml\"/>"
        )));
        let custom = part(&out, DEFAULT_CUSTOM);
        assert!(custom.contains(&format!(
            "<property fmtid=\"{FMTID}\" pid=\"2\" name=\"AIGC\"><vt:lpwstr>"
        )));
        assert!(custom.contains("A&amp;B&lt;C&gt;"));
        let names: Vec<String> = raw_entries(&out).into_iter().map(|e| e.0).collect();
        assert_eq!(names.first().map(String::as_str), Some(CONTENT_TYPES));
        assert_eq!(names.last().map(String::as_str), Some(DEFAULT_CUSTOM));
    }

    #[test]
    fn writing_twice_leaves_exactly_one_label() {
        let once = write_to_vec(&docx(&[]), "first").unwrap();
        let twice = write_to_vec(&once, VALUE).unwrap();
        assert_eq!(read_vec(&twice).unwrap(), vec![VALUE.to_owned()]);
        assert_eq!(
            part(&twice, CONTENT_TYPES)
                .matches("/docProps/custom.xml")
                .count(),
            1
        );
        assert_eq!(
            part(&twice, PACKAGE_RELS).matches(CUSTOM_REL_TYPE).count(),
            1
        );
        assert_eq!(raw_entries(&twice).len(), raw_entries(&once).len());
    }

    #[test]
    fn untouched_entries_keep_their_compressed_bytes_and_crc() {
        let input = docx(&[]);
        let before = raw_entries(&input);
        let after = raw_entries(&write_to_vec(&input, VALUE).unwrap());
        for entry in before
            .iter()
            .filter(|e| e.0 != CONTENT_TYPES && e.0 != PACKAGE_RELS)
        {
            assert!(after.contains(entry), "{} changed", entry.0);
        }
        // With a custom part already there, only that part changes.
        let labelled = write_to_vec(&input, "old").unwrap();
        let before = raw_entries(&labelled);
        let after = raw_entries(&write_to_vec(&labelled, VALUE).unwrap());
        assert_eq!(before.len(), after.len());
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(old.0, new.0);
            if old.0 != DEFAULT_CUSTOM {
                assert_eq!(old, new, "{} changed", old.0);
            }
        }
    }

    #[test]
    fn other_properties_survive_and_duplicates_go() {
        let custom = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="{CUSTOM_NS}" xmlns:vt="{VT_NS}"><property fmtid="{FMTID}" pid="2" name="AIGC"><vt:lpwstr>old-1</vt:lpwstr></property><property fmtid="{FMTID}" pid="3" name="Client"><vt:lpwstr>ACME &amp; Co</vt:lpwstr></property><property fmtid="{FMTID}" pid="4" name="aigc"><vt:lpwstr><![CDATA[old-2]]></vt:lpwstr></property><property fmtid="{FMTID}" pid="5" name="Pages"><vt:i4>3</vt:i4></property></Properties>"#
        );
        let input = docx(&[(DEFAULT_CUSTOM, &custom)]);
        assert_eq!(
            read_vec(&input).unwrap(),
            vec!["old-1".to_owned(), "old-2".to_owned()]
        );
        let out = write_to_vec(&input, VALUE).unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec![VALUE.to_owned()]);
        let text = part(&out, DEFAULT_CUSTOM);
        assert!(text.contains(r#"pid="3" name="Client"><vt:lpwstr>ACME &amp; Co</vt:lpwstr>"#));
        assert!(text.contains(r#"pid="5" name="Pages"><vt:i4>3</vt:i4>"#));
        assert!(text.contains(r#"pid="2" name="AIGC""#));
        assert_eq!(text.matches("<property ").count(), 3);
        // Content types and relationships were already right: kept byte for byte.
        let before = raw_entries(&input);
        let after = raw_entries(&out);
        for name in [CONTENT_TYPES, PACKAGE_RELS] {
            let find = |entries: &[(String, CompressionMethod, u32, Vec<u8>)]| {
                entries.iter().find(|e| e.0 == name).cloned()
            };
            assert_eq!(find(&before), find(&after));
        }
    }

    #[test]
    fn picks_a_free_pid_and_declares_the_vt_namespace_when_missing() {
        let custom = format!(
            "<op:Properties xmlns:op=\"{CUSTOM_NS}\"><op:property fmtid=\"{FMTID}\" pid=\"7\" name=\"AIGC\"/><op:property fmtid=\"{FMTID}\" pid=\"7\" name=\"Other\"/></op:Properties>"
        );
        let updated = set_property(&custom, "v", DEFAULT_CUSTOM).unwrap();
        assert!(updated.contains(&format!(
            "<op:property fmtid=\"{FMTID}\" pid=\"8\" name=\"AIGC\" xmlns:vt=\"{VT_NS}\"><vt:lpwstr>v</vt:lpwstr></op:property>"
        )), "{updated}");
        let empty = format!("<Properties xmlns=\"{CUSTOM_NS}\" />");
        let added = set_property(&empty, "v", DEFAULT_CUSTOM).unwrap();
        let values: Vec<_> = parse_custom(&added, DEFAULT_CUSTOM)
            .unwrap()
            .properties
            .into_iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(values, vec![Some("v".to_owned())]);
        assert!(added.ends_with("</Properties>"));
    }

    #[test]
    fn values_with_cr_round_trip_and_xml_forbidden_characters_are_refused() {
        let out = write_to_vec(&docx(&[]), "a\r\nb").unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec!["a\r\nb".to_owned()]);
        assert!(matches!(
            write_to_vec(&docx(&[]), "a\u{1}b"),
            Err(MarkError::InvalidLabel(_))
        ));
    }

    #[test]
    fn zips_that_are_not_ooxml_are_refused() {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        writer
            .start_file("readme.txt", SimpleFileOptions::default())
            .unwrap();
        writer.write_all(b"hi").unwrap();
        let zip = writer.finish().unwrap().into_inner();
        let error = read_vec(&zip).unwrap_err();
        assert!(matches!(error, MarkError::Unsupported(_)));
        assert!(error.to_string().contains("[Content_Types].xml"), "{error}");
        assert!(matches!(
            write_to_vec(&zip, VALUE),
            Err(MarkError::Unsupported(_))
        ));
    }

    #[test]
    fn truncated_and_corrupt_packages_are_errors_not_panics() {
        let input = write_to_vec(&docx(&[]), VALUE).unwrap();
        let error = read_vec(input.get(..input.len() - 10).unwrap()).unwrap_err();
        assert!(matches!(error, MarkError::Truncated { .. }), "{error}");
        for len in (0..input.len()).step_by(7) {
            let cut = input.get(..len).unwrap();
            assert!(read_vec(cut).is_err());
            assert!(write_to_vec(cut, VALUE).is_err());
        }
        // Flip bytes everywhere: never a panic (some flips hit only data and still read).
        for at in (0..input.len()).step_by(5) {
            let mut damaged = input.clone();
            if let Some(byte) = damaged.get_mut(at) {
                *byte ^= 0x5A;
            }
            let _ = read_vec(&damaged);
            let _ = write_to_vec(&damaged, VALUE);
        }
        let broken = docx(&[(DEFAULT_CUSTOM, "<Properties><property name=\"AIGC\">")]);
        let error = read_vec(&broken).unwrap_err();
        assert!(matches!(error, MarkError::Corrupt { .. }), "{error}");
        let wrong_root = docx(&[(DEFAULT_CUSTOM, "<Other/>")]);
        assert!(
            write_to_vec(&wrong_root, VALUE)
                .unwrap_err()
                .to_string()
                .contains("no Properties root")
        );
        assert!(read_vec(b"PK\x03\x04 not really a zip").is_err());
    }

    #[test]
    fn issue_10_ooxml_comments_cdata_and_pis_hold_no_label_and_one_remains_after_write() {
        let custom = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE Properties [<!ENTITY e "x"> <!-- > -->]>
<Properties xmlns="{CUSTOM_NS}" xmlns:vt="{VT_NS}"><!-- <property fmtid="{FMTID}" pid="9" name="AIGC"><vt:lpwstr>comment</vt:lpwstr></property> a > b --><?pi <property name="AIGC"><vt:lpwstr>pi</vt:lpwstr></property>?><property fmtid="{FMTID}" pid="2" name="Note"><vt:lpwstr><![CDATA[<property name="AIGC"><vt:lpwstr>cdata</vt:lpwstr></property>]]></vt:lpwstr></property><property fmtid="{FMTID}" pid="3" name="AIGC"><vt:lpwstr><!-- a > b -->real &amp; <?pi x > y?>one</vt:lpwstr></property></Properties>"#
        );
        let input = docx(&[(DEFAULT_CUSTOM, &custom)]);
        assert_eq!(read_vec(&input).unwrap(), vec!["real & one".to_owned()]);
        let once = write_to_vec(&input, VALUE).unwrap();
        assert_eq!(read_vec(&once).unwrap(), vec![VALUE.to_owned()]);
        let text = part(&once, DEFAULT_CUSTOM);
        assert!(text.contains(
            r#"<![CDATA[<property name="AIGC"><vt:lpwstr>cdata</vt:lpwstr></property>]]>"#
        ));
        assert!(text.contains("<!-- <property"), "the comment is kept");
        let twice = write_to_vec(&once, "second").unwrap();
        assert_eq!(read_vec(&twice).unwrap(), vec!["second".to_owned()]);
        assert_eq!(
            part(&twice, DEFAULT_CUSTOM)
                .matches("name=\"AIGC\"")
                .count(),
            4,
            "three fakes and the label"
        );
    }

    #[test]
    fn issue_10_ooxml_malformed_custom_part_is_an_error_not_a_second_label() {
        for broken in [
            format!(
                "<Properties xmlns=\"{CUSTOM_NS}\"><property name=\"AIGC\"><a></b></property></Properties>"
            ),
            format!("<Properties xmlns=\"{CUSTOM_NS}\"><property name=\"AIGC\">"),
        ] {
            let input = docx(&[(DEFAULT_CUSTOM, &broken)]);
            let error = write_to_vec(&input, VALUE).unwrap_err();
            assert!(error.to_string().contains("not well-formed"), "{error}");
        }
    }

    #[test]
    fn issue_10_fuzz_ooxml_second_bom_keeps_byte_positions() {
        let custom = format!(
            "\u{feff}\u{feff}<Properties xmlns=\"{CUSTOM_NS}\" xmlns:vt=\"{VT_NS}\"><property fmtid=\"{FMTID}\" pid=\"2\" name=\"AIGC\"><vt:lpwstr>\u{feff}old</vt:lpwstr></property></Properties>"
        );
        let input = docx(&[(DEFAULT_CUSTOM, &custom)]);
        assert_eq!(read_vec(&input).unwrap(), vec!["\u{feff}old".to_owned()]);
        let once = write_to_vec(&input, VALUE).unwrap();
        assert_eq!(read_vec(&once).unwrap(), vec![VALUE.to_owned()]);
    }
}
