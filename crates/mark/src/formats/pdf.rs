//! PDF: the label is an `/AIGC` entry, a PDF string holding the JSON, in the document
//! Information dictionary (the trailer's `/Info`), where existing labelling tools put it (whether
//! the TC260 text guide specifies PDF is unconfirmed; see the standards notes, section 4).
//!
//! **Writing** is an incremental update (ISO 32000-1 §7.5.6): the original bytes are copied
//! unchanged (streamed, never held in memory), then a new revision of the Info dictionary is
//! appended, keeping every entry of the old one except `/AIGC`, followed by a cross-reference
//! section and trailer whose `/Prev` points at the previous one. The section has the previous
//! one's kind: a classic `xref` table and `trailer` after a table, and an uncompressed
//! cross-reference stream after a cross-reference stream (PDF 1.5+), so the update is as
//! conformant as the file it extends. An existing Info dictionary keeps its object number; without
//! one a new object gets number `/Size`. Signatures over earlier revisions stay valid (the signed
//! bytes are untouched), though a viewer will report that the document changed after signing.
//! If the old Info dictionary cannot be parsed, the new one holds only `/AIGC`.
//!
//! **Reading** finds the last `startxref` in the final 2 KiB, reads the last cross-reference
//! section (table or stream), follows the `/Prev` chain (and `/XRefStm` of hybrid files) only as
//! far as needed to locate the Info object, and returns its `/AIGC` value(s), literal or hex, in
//! PDFDocEncoding, UTF-16BE or UTF-8. Labels in older revisions are superseded by the newest
//! Info dictionary, so a reader sees exactly one label, the one a PDF viewer would show. Objects
//! inside object streams are supported (FlateDecode with PNG predictors is decoded by the small
//! inflater below).
//!
//! Out of scope: encrypted PDFs (their Info strings are encrypted too; decrypt first), files whose
//! cross-reference offsets are wrong and need reconstruction by scanning, stream filters other
//! than FlateDecode for cross-reference and object streams, and XMP metadata streams (the Info
//! dictionary is what the label lives in). Objects over 16 MiB and streams over 64 MiB are
//! refused.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::MarkError;

const FORMAT: &str = "PDF";
/// How much of the end of the file is searched for `startxref`.
const TAIL: u64 = 2048;
/// Largest single object (a dictionary) parsed.
const MAX_OBJECT: u64 = 16 << 20;
/// Largest cross-reference or object stream read, before or after decoding.
const MAX_STREAM: u64 = 64 << 20;
/// Most cross-reference sections followed.
const MAX_SECTIONS: usize = 1024;
/// Deepest nesting of arrays and dictionaries.
const MAX_NESTING: usize = 64;
/// Deepest chain of indirect references followed (object streams, stream lengths).
const MAX_INDIRECTION: usize = 8;

/// Every label value in the file: the `/AIGC` entries of the current Info dictionary.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let len = input.seek(SeekFrom::End(0))?;
    let tail = find_tail(input, len)?;
    let mut pdf = Pdf {
        src: Source { input, len },
        startxref: tail.startxref,
    };
    let last = pdf.section(tail.startxref)?;
    refuse_encrypted(&last.trailer)?;
    let info = match last.trailer.get(b"Info") {
        None | Some(Obj::Null) => return Ok(Vec::new()),
        Some(Obj::Dict(dict)) => dict.clone(),
        Some(Obj::Ref(num, _)) => match pdf.object(*num, 0)? {
            None | Some(Loaded { obj: Obj::Null, .. }) => return Ok(Vec::new()),
            Some(Loaded {
                obj: Obj::Dict(dict),
                ..
            }) => dict,
            Some(_) => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!(
                        "the trailer's /Info points to object {num}, which is not a dictionary"
                    ),
                ));
            }
        },
        Some(_) => {
            return Err(MarkError::corrupt(
                FORMAT,
                "the trailer's /Info is not a reference",
            ));
        }
    };
    let mut values = Vec::new();
    for entry in info.entries.iter().filter(|entry| entry.key == b"AIGC") {
        let value = match &entry.value {
            Obj::Ref(num, _) => pdf.object(*num, 0)?.map(|loaded| loaded.obj),
            other => Some(other.clone()),
        };
        match value {
            Some(Obj::Str(bytes)) => values.push(decode_text(&bytes)?),
            _ => {
                return Err(MarkError::corrupt(
                    FORMAT,
                    "the /AIGC entry of the Info dictionary is not a string",
                ));
            }
        }
    }
    Ok(values)
}

/// Copy with exactly one label holding `value`, as an incremental update.
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    let len = input.seek(SeekFrom::End(0))?;
    let tail = find_tail(input, len)?;
    let mut pdf = Pdf {
        src: Source { input, len },
        startxref: tail.startxref,
    };
    let last = pdf.section(tail.startxref)?;
    let trailer = &last.trailer;
    refuse_encrypted(trailer)?;
    let root = match (trailer.get(b"Root"), trailer.raw_value(b"Root")) {
        (Some(Obj::Ref(..)), Some(raw)) => raw.to_vec(),
        _ => {
            return Err(MarkError::corrupt(
                FORMAT,
                "the last trailer has no /Root reference to the document catalog",
            ));
        }
    };
    let size = trailer
        .get(b"Size")
        .and_then(Obj::as_u64)
        .filter(|size| *size >= 1)
        .ok_or_else(|| MarkError::corrupt(FORMAT, "the last trailer has no valid /Size"))?;
    let id = match trailer.get(b"ID") {
        Some(Obj::Array(_)) => trailer.raw_value(b"ID").map(<[u8]>::to_vec),
        _ => None,
    };
    let (info_num, info_gen, kept) = match trailer.get(b"Info") {
        Some(Obj::Ref(num, generation)) if *num > 0 && *generation <= 65535 => {
            let kept = match pdf.object(*num, 0) {
                Ok(Some(Loaded {
                    obj: Obj::Dict(dict),
                    ..
                })) => dict.entries,
                Ok(_) => Vec::new(),
                Err(MarkError::Io(error)) => return Err(MarkError::Io(error)),
                // Documented: an unparsable old Info dictionary is replaced by one with /AIGC only.
                Err(_) => Vec::new(),
            };
            (*num, *generation, kept)
        }
        Some(Obj::Dict(dict)) => (size, 0, dict.entries.clone()),
        _ => (size, 0, Vec::new()),
    };

    // The original bytes, unchanged.
    let input = pdf.src.input;
    input.seek(SeekFrom::Start(0))?;
    let copied = std::io::copy(&mut input.take(len), output)?;
    if copied != len {
        return Err(MarkError::truncated(
            FORMAT,
            "the file got shorter while it was copied",
        ));
    }

    let mut update = Vec::new();
    if !tail.ends_with_eol {
        update.push(b'\n');
    }
    let info_offset = len + update.len() as u64;
    update.extend_from_slice(format!("{info_num} {info_gen} obj\n<<").as_bytes());
    for entry in kept.iter().filter(|entry| entry.key != b"AIGC") {
        update.push(b'\n');
        update.extend_from_slice(&entry.raw);
    }
    update.extend_from_slice(b"\n/AIGC ");
    update.extend_from_slice(&pdf_string(value));
    update.extend_from_slice(b"\n>>\nendobj\n");
    let xref_offset = len + update.len() as u64;
    let new_size = size.max(info_num.saturating_add(1));
    let id = id
        .map(|id| [&b" /ID "[..], &id].concat())
        .unwrap_or_default();
    let prev = tail.startxref;
    match last.kind {
        SectionKind::Table(_) => {
            if info_offset > 9_999_999_999 {
                return Err(MarkError::Unsupported(
                    "a PDF over 10 GB with a classic cross-reference table".into(),
                ));
            }
            update.extend_from_slice(
                format!(
                    "xref\n{info_num} 1\n{info_offset:010} {info_gen:05} n\r\ntrailer\n<< /Size {new_size} /Root "
                )
                .as_bytes(),
            );
            update.extend_from_slice(&root);
            update.extend_from_slice(
                format!(" /Info {info_num} {info_gen} R /Prev {prev}").as_bytes(),
            );
            update.extend_from_slice(&id);
            update.extend_from_slice(b" >>\n");
        }
        SectionKind::Stream { .. } => {
            let own = new_size;
            let mut rows = Vec::with_capacity(22);
            for (offset, generation) in [(info_offset, info_gen), (xref_offset, 0)] {
                rows.push(1u8);
                rows.extend_from_slice(&offset.to_be_bytes());
                rows.extend_from_slice(&u16::try_from(generation).unwrap_or(0).to_be_bytes());
            }
            update.extend_from_slice(
                format!(
                    "{own} 0 obj\n<< /Type /XRef /Size {} /Index [{info_num} 1 {own} 1] /W [1 8 2] /Root ",
                    own.saturating_add(1)
                )
                .as_bytes(),
            );
            update.extend_from_slice(&root);
            update.extend_from_slice(
                format!(" /Info {info_num} {info_gen} R /Prev {prev}").as_bytes(),
            );
            update.extend_from_slice(&id);
            update.extend_from_slice(format!(" /Length {} >>\nstream\n", rows.len()).as_bytes());
            update.extend_from_slice(&rows);
            update.extend_from_slice(b"\nendstream\nendobj\n");
        }
    }
    update.extend_from_slice(format!("startxref\n{xref_offset}\n%%EOF\n").as_bytes());
    output.write_all(&update)?;
    output.flush()?;
    Ok(())
}

fn refuse_encrypted(trailer: &Dict) -> Result<(), MarkError> {
    match trailer.get(b"Encrypt") {
        None | Some(Obj::Null) => Ok(()),
        Some(_) => Err(MarkError::Unsupported(
            "an encrypted PDF: its Info dictionary strings are encrypted too; decrypt it first \
             (e.g. qpdf --decrypt)"
                .into(),
        )),
    }
}

/// A PDF string that reads back as `value`: a literal string for ASCII (with `(`, `)` and `\`
/// escaped and anything unprintable as an octal escape), UTF-16BE with a byte-order mark, as a
/// hex string, otherwise.
fn pdf_string(value: &str) -> Vec<u8> {
    if value.is_ascii() {
        let mut out = Vec::with_capacity(value.len() + 8);
        out.push(b'(');
        for byte in value.bytes() {
            match byte {
                b'(' | b')' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
                0x20..=0x7E => out.push(byte),
                other => out.extend_from_slice(format!("\\{other:03o}").as_bytes()),
            }
        }
        out.push(b')');
        return out;
    }
    let mut out = b"<FEFF".to_vec();
    for unit in value.encode_utf16() {
        out.extend_from_slice(format!("{unit:04X}").as_bytes());
    }
    out.push(b'>');
    out
}

/// A PDF text string: UTF-16BE or UTF-8 with a byte-order mark, else UTF-8 when valid (some
/// writers use it), else PDFDocEncoding (read as Latin-1).
fn decode_text(bytes: &[u8]) -> Result<String, MarkError> {
    if let Some(utf16) = bytes.strip_prefix(b"\xFE\xFF") {
        let units: Vec<u16> = utf16
            .chunks(2)
            .map(|pair| match pair {
                [high, low] => u16::from_be_bytes([*high, *low]),
                _ => 0xFFFD,
            })
            .collect();
        return String::from_utf16(&units)
            .map_err(|_| MarkError::corrupt(FORMAT, "the /AIGC string is not valid UTF-16"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    Ok(match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|byte| char::from(*byte)).collect(),
    })
}

// --- The end of the file. ---

struct Tail {
    startxref: u64,
    ends_with_eol: bool,
}

fn find_tail<R: Read + Seek>(input: &mut R, len: u64) -> Result<Tail, MarkError> {
    if len == 0 {
        return Err(MarkError::truncated(FORMAT, "the file is empty"));
    }
    let start = len.saturating_sub(TAIL);
    input.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    input
        .take(len - start)
        .read_to_end(&mut tail)
        .map_err(|error| MarkError::from_read(FORMAT, error))?;
    let Some(at) = rfind(&tail, b"startxref") else {
        return Err(if rfind(&tail, b"%%EOF").is_some() {
            MarkError::corrupt(
                FORMAT,
                "the file ends with %%EOF but has no startxref before it",
            )
        } else {
            MarkError::truncated(
                FORMAT,
                "no startxref and %%EOF at the end of the file: it is cut short (or not a PDF)",
            )
        });
    };
    let after = tail.get(at + b"startxref".len()..).unwrap_or_default();
    if rfind(after, b"%%EOF").is_none() {
        return Err(MarkError::truncated(
            FORMAT,
            "the file ends after startxref without %%EOF",
        ));
    }
    let mut parser = Parser::new(after, true);
    parser.skip_ws();
    let startxref = parser
        .unsigned("the cross-reference offset")
        .map_err(|_| MarkError::corrupt(FORMAT, "startxref is not followed by a byte offset"))?;
    if startxref >= len {
        return Err(MarkError::corrupt(
            FORMAT,
            format!(
                "startxref points to offset {startxref}, past the end of the file ({len} bytes)"
            ),
        ));
    }
    let ends_with_eol = matches!(tail.last(), Some(b'\n' | b'\r'));
    Ok(Tail {
        startxref,
        ends_with_eol,
    })
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .rposition(|window| window == needle)
}

// --- Objects. ---

#[derive(Debug, Clone, PartialEq)]
enum Obj {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Name(Vec<u8>),
    Str(Vec<u8>),
    Array(Vec<Obj>),
    Dict(Dict),
    Ref(u64, u64),
    Keyword(Vec<u8>),
}

impl Obj {
    fn as_u64(&self) -> Option<u64> {
        match self {
            Obj::Int(value) => u64::try_from(*value).ok(),
            _ => None,
        }
    }

    fn as_name(&self) -> Option<&[u8]> {
        match self {
            Obj::Name(name) => Some(name),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Dict {
    entries: Vec<DictEntry>,
}

#[derive(Debug, Clone, PartialEq)]
struct DictEntry {
    /// The key, `#xx` escapes decoded.
    key: Vec<u8>,
    value: Obj,
    /// The entry exactly as written: `/Key value`.
    raw: Vec<u8>,
    /// The value exactly as written.
    raw_value: Vec<u8>,
}

impl Dict {
    fn get(&self, key: &[u8]) -> Option<&Obj> {
        self.entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| &entry.value)
    }

    fn raw_value(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.raw_value.as_slice())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum ParseError {
    /// The window ends before the object does: read more.
    Incomplete,
    /// The data (which is all there is) ends before the object does.
    End,
    Invalid(String),
}

type Parsed<T> = Result<T, ParseError>;

fn is_ws(byte: u8) -> bool {
    matches!(byte, 0 | 9 | 10 | 12 | 13 | 32)
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(byte: u8) -> bool {
    !is_ws(byte) && !is_delimiter(byte)
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// A PDF object parser over a window of the file (or over decoded stream data).
struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// Whether `data` runs to the end of what there is; otherwise running out asks for more.
    complete: bool,
}

impl<'a> Parser<'a> {
    fn new(data: &'a [u8], complete: bool) -> Self {
        Parser {
            data,
            pos: 0,
            complete,
        }
    }

    fn at(&self, pos: usize) -> Option<u8> {
        self.data.get(pos).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.at(self.pos)
    }

    fn rest(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or_default()
    }

    fn out_of_data(&self) -> ParseError {
        if self.complete {
            ParseError::End
        } else {
            ParseError::Incomplete
        }
    }

    fn skip_ws(&mut self) {
        while let Some(byte) = self.peek() {
            if is_ws(byte) {
                self.pos += 1;
            } else if byte == b'%' {
                while let Some(byte) = self.peek() {
                    if byte == b'\r' || byte == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// A run of regular characters.
    fn token(&mut self) -> Parsed<&'a [u8]> {
        let start = self.pos;
        while self.peek().is_some_and(is_regular) {
            self.pos += 1;
        }
        if self.pos >= self.data.len() && !self.complete {
            return Err(ParseError::Incomplete);
        }
        Ok(self.data.get(start..self.pos).unwrap_or_default())
    }

    fn unsigned(&mut self, what: &str) -> Parsed<u64> {
        let token = self.token()?;
        parse_unsigned(token).ok_or_else(|| ParseError::Invalid(format!("expected {what}")))
    }

    fn object(&mut self, depth: usize) -> Parsed<Obj> {
        if depth > MAX_NESTING {
            return Err(ParseError::Invalid(
                "arrays or dictionaries nest too deeply".into(),
            ));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.out_of_data()),
            Some(b'/') => self.name().map(Obj::Name),
            Some(b'(') => self.literal().map(Obj::Str),
            Some(b'<') => match self.at(self.pos + 1) {
                Some(b'<') => self.dict(depth).map(Obj::Dict),
                None => Err(self.out_of_data()),
                Some(_) => self.hex().map(Obj::Str),
            },
            Some(b'[') => self.array(depth).map(Obj::Array),
            Some(byte) if is_delimiter(byte) => Err(ParseError::Invalid(format!(
                "unexpected '{}'",
                char::from(byte)
            ))),
            Some(_) => {
                let token = self.token()?;
                match token {
                    b"true" => Ok(Obj::Bool(true)),
                    b"false" => Ok(Obj::Bool(false)),
                    b"null" => Ok(Obj::Null),
                    _ if token
                        .first()
                        .is_some_and(|b| b.is_ascii_digit() || b"+-.".contains(b)) =>
                    {
                        self.number(token)
                    }
                    _ => Ok(Obj::Keyword(token.to_vec())),
                }
            }
        }
    }

    fn number(&mut self, token: &[u8]) -> Parsed<Obj> {
        let invalid =
            || ParseError::Invalid(format!("bad number {:?}", String::from_utf8_lossy(token)));
        let text = std::str::from_utf8(token).map_err(|_| invalid())?;
        if let Some(num) = parse_unsigned(token) {
            // `N G R` is a reference.
            let save = self.pos;
            self.skip_ws();
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                let second = self.token()?;
                if let Some(generation) = parse_unsigned(second) {
                    self.skip_ws();
                    match (self.peek(), self.at(self.pos + 1)) {
                        (Some(b'R'), None) if !self.complete => return Err(ParseError::Incomplete),
                        (Some(b'R'), next) if !next.is_some_and(is_regular) => {
                            self.pos += 1;
                            return Ok(Obj::Ref(num, generation));
                        }
                        (None, _) if !self.complete => return Err(ParseError::Incomplete),
                        _ => {}
                    }
                }
            } else if self.peek().is_none() && !self.complete {
                return Err(ParseError::Incomplete);
            }
            self.pos = save;
        }
        if !text.contains('.')
            && let Ok(value) = text.parse::<i64>()
        {
            return Ok(Obj::Int(value));
        }
        text.parse::<f64>().map(Obj::Real).map_err(|_| invalid())
    }

    fn name(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1;
        let mut name = Vec::new();
        while let Some(byte) = self.peek().filter(|b| is_regular(*b)) {
            let escaped = (byte == b'#')
                .then(|| {
                    Some(
                        hex_value(self.at(self.pos + 1)?)? << 4
                            | hex_value(self.at(self.pos + 2)?)?,
                    )
                })
                .flatten();
            match escaped {
                Some(decoded) => {
                    name.push(decoded);
                    self.pos += 3;
                }
                None => {
                    name.push(byte);
                    self.pos += 1;
                }
            }
        }
        if self.pos >= self.data.len() && !self.complete {
            return Err(ParseError::Incomplete);
        }
        Ok(name)
    }

    fn literal(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut depth = 1usize;
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.out_of_data());
            };
            self.pos += 1;
            match byte {
                b'\\' => {
                    let Some(escape) = self.peek() else {
                        return Err(self.out_of_data());
                    };
                    self.pos += 1;
                    match escape {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'0'..=b'7' => {
                            let mut value = u32::from(escape - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(digit @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(digit - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((value & 0xFF) as u8);
                        }
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                b'(' => {
                    depth += 1;
                    out.push(byte);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(out);
                    }
                    out.push(byte);
                }
                b'\r' => {
                    out.push(b'\n');
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                }
                other => out.push(other),
            }
        }
    }

    fn hex(&mut self) -> Parsed<Vec<u8>> {
        self.pos += 1;
        let mut nibbles = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.out_of_data());
            };
            self.pos += 1;
            match byte {
                b'>' => break,
                _ if is_ws(byte) => {}
                _ => nibbles.push(hex_value(byte).ok_or_else(|| {
                    ParseError::Invalid(format!("'{}' in a hex string", char::from(byte)))
                })?),
            }
        }
        Ok(nibbles
            .chunks(2)
            .map(|pair| match pair {
                [high, low] => high << 4 | low,
                [high] => high << 4,
                _ => 0,
            })
            .collect())
    }

    fn array(&mut self, depth: usize) -> Parsed<Vec<Obj>> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.out_of_data()),
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(_) => match self.object(depth + 1)? {
                    Obj::Keyword(word) => {
                        return Err(ParseError::Invalid(format!(
                            "the keyword {:?} inside an array",
                            String::from_utf8_lossy(&word)
                        )));
                    }
                    item => items.push(item),
                },
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Parsed<Dict> {
        self.pos += 2;
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Err(self.out_of_data()),
                Some(b'>') => match self.at(self.pos + 1) {
                    Some(b'>') => {
                        self.pos += 2;
                        return Ok(Dict { entries });
                    }
                    None => return Err(self.out_of_data()),
                    Some(_) => {
                        return Err(ParseError::Invalid("a lone '>' in a dictionary".into()));
                    }
                },
                Some(b'/') => {
                    let key_start = self.pos;
                    let key = self.name()?;
                    self.skip_ws();
                    let value_start = self.pos;
                    let value = self.object(depth + 1)?;
                    if let Obj::Keyword(word) = &value {
                        return Err(ParseError::Invalid(format!(
                            "the keyword {:?} as a dictionary value",
                            String::from_utf8_lossy(word)
                        )));
                    }
                    let raw = self
                        .data
                        .get(key_start..self.pos)
                        .unwrap_or_default()
                        .to_vec();
                    let raw_value = self
                        .data
                        .get(value_start..self.pos)
                        .unwrap_or_default()
                        .to_vec();
                    entries.push(DictEntry {
                        key,
                        value,
                        raw,
                        raw_value,
                    });
                }
                Some(_) => {
                    return Err(ParseError::Invalid("a dictionary key is not a name".into()));
                }
            }
        }
    }

    /// `N G obj <object>`, and where its stream data starts when it is a stream.
    fn indirect(&mut self) -> Parsed<Indirect> {
        self.skip_ws();
        let num = self.unsigned("an object number")?;
        self.skip_ws();
        self.unsigned("a generation number")?;
        self.skip_ws();
        if self.token()? != b"obj" {
            return Err(ParseError::Invalid("expected 'N G obj'".into()));
        }
        let obj = self.object(0)?;
        let mut stream = None;
        if let Obj::Dict(_) = obj {
            self.skip_ws();
            if self.rest().len() < 8 && !self.complete {
                return Err(ParseError::Incomplete);
            }
            if self.rest().starts_with(b"stream") {
                self.pos += 6;
                if self.rest().starts_with(b"\r\n") {
                    self.pos += 2;
                } else if self.rest().starts_with(b"\n") || self.rest().starts_with(b"\r") {
                    self.pos += 1;
                }
                stream = Some(self.pos);
            }
        }
        Ok(Indirect { num, obj, stream })
    }
}

fn parse_unsigned(token: &[u8]) -> Option<u64> {
    if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}

struct Indirect {
    num: u64,
    obj: Obj,
    /// Offset of the stream data from the start of the object.
    stream: Option<usize>,
}

/// A parse error in data that is all there is (decoded stream contents).
fn complete_error(error: ParseError, what: &str) -> MarkError {
    match error {
        ParseError::Invalid(detail) => MarkError::corrupt(FORMAT, format!("{what}: {detail}")),
        ParseError::End | ParseError::Incomplete => {
            MarkError::corrupt(FORMAT, format!("{what} ends in the middle of an object"))
        }
    }
}

// --- Reading the file in windows. ---

struct Source<'a, R> {
    input: &'a mut R,
    len: u64,
}

impl<R: Read + Seek> Source<'_, R> {
    /// Up to `max` bytes at `offset` (fewer at the end of the file).
    fn read_at(&mut self, offset: u64, max: u64) -> Result<Vec<u8>, MarkError> {
        let wanted = max.min(self.len.saturating_sub(offset));
        self.input.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        (&mut *self.input)
            .take(wanted)
            .read_to_end(&mut buf)
            .map_err(|error| MarkError::from_read(FORMAT, error))?;
        if (buf.len() as u64) < wanted {
            return Err(MarkError::truncated(
                FORMAT,
                "the file is shorter than it was",
            ));
        }
        Ok(buf)
    }

    /// Parse at `offset`, reading a larger window while the object runs past it.
    fn parse_at<T>(
        &mut self,
        offset: u64,
        what: &str,
        mut parse: impl FnMut(&mut Parser<'_>) -> Parsed<T>,
    ) -> Result<T, MarkError> {
        if offset >= self.len {
            return Err(MarkError::corrupt(
                FORMAT,
                format!("{what} is said to be at offset {offset}, past the end of the file"),
            ));
        }
        let mut window = 4096;
        loop {
            let data = self.read_at(offset, window)?;
            let complete = offset + data.len() as u64 >= self.len;
            let mut parser = Parser::new(&data, complete);
            match parse(&mut parser) {
                Ok(value) => return Ok(value),
                Err(ParseError::Incomplete) if !complete && window < MAX_OBJECT => window *= 4,
                Err(ParseError::Incomplete) if !complete => {
                    return Err(MarkError::Unsupported(format!(
                        "{what} at offset {offset} is over 16 MiB"
                    )));
                }
                Err(ParseError::Incomplete | ParseError::End) => {
                    return Err(MarkError::truncated(
                        FORMAT,
                        format!("the file ends inside {what} at offset {offset}"),
                    ));
                }
                Err(ParseError::Invalid(detail)) => {
                    return Err(MarkError::corrupt(
                        FORMAT,
                        format!("{what} at offset {offset}: {detail}"),
                    ));
                }
            }
        }
    }
}

/// A forward reader for cross-reference tables, which may be far larger than any window.
struct Scanner {
    buf: Vec<u8>,
    buf_start: u64,
    pos: u64,
}

impl Scanner {
    fn new(pos: u64) -> Self {
        Scanner {
            buf: Vec::new(),
            buf_start: 0,
            pos,
        }
    }

    fn byte<R: Read + Seek>(&mut self, src: &mut Source<'_, R>) -> Result<Option<u8>, MarkError> {
        let end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos >= end {
            if self.pos >= src.len {
                return Ok(None);
            }
            self.buf = src.read_at(self.pos, 8192)?;
            self.buf_start = self.pos;
        }
        let index = usize::try_from(self.pos - self.buf_start).unwrap_or(usize::MAX);
        Ok(self.buf.get(index).copied())
    }

    fn skip_ws<R: Read + Seek>(&mut self, src: &mut Source<'_, R>) -> Result<(), MarkError> {
        let mut comment = false;
        while let Some(byte) = self.byte(src)? {
            match byte {
                b'\r' | b'\n' => comment = false,
                b'%' => comment = true,
                _ if comment || is_ws(byte) => {}
                _ => break,
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// A run of regular characters (at most 32).
    fn token<R: Read + Seek>(&mut self, src: &mut Source<'_, R>) -> Result<Vec<u8>, MarkError> {
        let mut token = Vec::new();
        while let Some(byte) = self.byte(src)?.filter(|b| is_regular(*b)) {
            if token.len() >= 32 {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!(
                        "an overlong token in the cross-reference table at offset {}",
                        self.pos
                    ),
                ));
            }
            token.push(byte);
            self.pos += 1;
        }
        Ok(token)
    }

    fn at_end<R: Read + Seek>(&self, src: &Source<'_, R>) -> bool {
        self.pos >= src.len
    }
}

// --- Cross-reference sections and object lookup. ---

fn table_error<R: Read + Seek>(
    src: &Source<'_, R>,
    scanner: &Scanner,
    table_offset: u64,
    what: &str,
) -> MarkError {
    if scanner.at_end(src) {
        MarkError::truncated(
            FORMAT,
            format!("the file ends inside the cross-reference table at offset {table_offset}"),
        )
    } else {
        MarkError::corrupt(
            FORMAT,
            format!(
                "{what} in the cross-reference table at offset {}",
                scanner.pos
            ),
        )
    }
}

struct Section {
    trailer: Dict,
    kind: SectionKind,
}

enum SectionKind {
    Table(Vec<Subsection>),
    /// A cross-reference stream; `trailer` is its dictionary.
    Stream {
        data_offset: u64,
    },
}

struct Subsection {
    first: u64,
    count: u64,
    /// File offset of the first entry.
    start: u64,
    /// Whether every entry is the standard 20 bytes, so entries can be found by arithmetic.
    regular: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Free,
    InUse { offset: u64 },
    Compressed { stream: u64, index: u64 },
}

struct Loaded {
    obj: Obj,
    /// File offset of the stream data, for a stream.
    stream: Option<u64>,
}

/// A standard 20-byte table entry: `nnnnnnnnnn ggggg n` and a two-byte line ending.
fn table_entry(bytes: &[u8]) -> Option<(u64, bool)> {
    let [offset @ .., b' ', _, _, _, _, _, b' ', kind, eol1, eol2] = bytes else {
        return None;
    };
    let digits = bytes.get(..10)?.iter().chain(bytes.get(11..16)?);
    if offset.len() != 10 || !digits.into_iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !matches!(kind, b'n' | b'f') || !is_ws(*eol1) || !is_ws(*eol2) {
        return None;
    }
    Some((parse_unsigned(offset)?, *kind == b'n'))
}

struct Pdf<'a, R> {
    src: Source<'a, R>,
    startxref: u64,
}

impl<R: Read + Seek> Pdf<'_, R> {
    /// The cross-reference section (table or stream) at `offset`.
    fn section(&mut self, offset: u64) -> Result<Section, MarkError> {
        if offset >= self.src.len {
            return Err(MarkError::corrupt(
                FORMAT,
                format!("a cross-reference offset ({offset}) points past the end of the file"),
            ));
        }
        let mut scanner = Scanner::new(offset);
        scanner.skip_ws(&mut self.src)?;
        let start = scanner.pos;
        let first = scanner.token(&mut self.src)?;
        if first == b"xref" {
            return self.table(scanner);
        }
        if parse_unsigned(&first).is_none() {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "offset {offset} should start a cross-reference table or stream but holds {:?}",
                    String::from_utf8_lossy(&first)
                ),
            ));
        }
        let indirect = self
            .src
            .parse_at(start, "the cross-reference stream", |p| p.indirect())?;
        let Obj::Dict(dict) = indirect.obj else {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "offset {offset} holds object {}, not a cross-reference stream",
                    indirect.num
                ),
            ));
        };
        if dict.get(b"Type").and_then(Obj::as_name) != Some(b"XRef") {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "offset {offset} holds object {}, not a cross-reference stream",
                    indirect.num
                ),
            ));
        }
        let Some(rel) = indirect.stream else {
            return Err(MarkError::corrupt(
                FORMAT,
                "the cross-reference stream has no stream data",
            ));
        };
        Ok(Section {
            trailer: dict,
            kind: SectionKind::Stream {
                data_offset: start + rel as u64,
            },
        })
    }

    fn table(&mut self, mut scanner: Scanner) -> Result<Section, MarkError> {
        let table_offset = scanner.pos;
        let mut subsections = Vec::new();
        loop {
            scanner.skip_ws(&mut self.src)?;
            let token = scanner.token(&mut self.src)?;
            if token == b"trailer" {
                break;
            }
            let first = parse_unsigned(&token).ok_or_else(|| {
                table_error(&self.src, &scanner, table_offset, "an unexpected token")
            })?;
            scanner.skip_ws(&mut self.src)?;
            let count_token = scanner.token(&mut self.src)?;
            let count = parse_unsigned(&count_token)
                .filter(|count| *count <= 100_000_000 && first.checked_add(*count).is_some())
                .ok_or_else(|| {
                    table_error(&self.src, &scanner, table_offset, "a bad subsection header")
                })?;
            scanner.skip_ws(&mut self.src)?;
            let start = scanner.pos;
            let regular = count == 0
                || (table_entry(&self.src.read_at(start, 20)?).is_some()
                    && table_entry(&self.src.read_at(start + (count - 1) * 20, 20)?).is_some());
            if regular {
                scanner.pos = start + count * 20;
            } else {
                for _ in 0..count {
                    for field in 0..3 {
                        scanner.skip_ws(&mut self.src)?;
                        let token = scanner.token(&mut self.src)?;
                        let ok = match field {
                            2 => token == b"n" || token == b"f",
                            _ => parse_unsigned(&token).is_some(),
                        };
                        if !ok {
                            return Err(table_error(
                                &self.src,
                                &scanner,
                                table_offset,
                                "a malformed entry",
                            ));
                        }
                    }
                }
            }
            subsections.push(Subsection {
                first,
                count,
                start,
                regular,
            });
            if subsections.len() > 1_000_000 {
                return Err(MarkError::corrupt(
                    FORMAT,
                    "too many cross-reference subsections",
                ));
            }
        }
        let trailer = self
            .src
            .parse_at(
                scanner.pos,
                "the trailer dictionary",
                |parser| match parser.object(0)? {
                    Obj::Dict(dict) => Ok(dict),
                    _ => Err(ParseError::Invalid(
                        "the trailer is not a dictionary".into(),
                    )),
                },
            )?;
        Ok(Section {
            trailer,
            kind: SectionKind::Table(subsections),
        })
    }

    /// Where `num` is, according to `section` alone.
    fn entry_in(&mut self, section: &Section, num: u64) -> Result<Option<Entry>, MarkError> {
        match &section.kind {
            SectionKind::Table(subsections) => {
                let Some(sub) = subsections
                    .iter()
                    .find(|sub| num >= sub.first && num - sub.first < sub.count)
                else {
                    return Ok(None);
                };
                let index = num - sub.first;
                let parsed = if sub.regular {
                    table_entry(&self.src.read_at(sub.start + index * 20, 20)?)
                } else {
                    let mut scanner = Scanner::new(sub.start);
                    for _ in 0..index * 3 {
                        scanner.skip_ws(&mut self.src)?;
                        if scanner.token(&mut self.src)?.is_empty() {
                            break; // Malformed or cut short: the fields below fail to parse.
                        }
                    }
                    let mut fields = Vec::new();
                    for _ in 0..3 {
                        scanner.skip_ws(&mut self.src)?;
                        fields.push(scanner.token(&mut self.src)?);
                    }
                    match fields.as_slice() {
                        [offset, _, kind] if kind == b"n" || kind == b"f" => {
                            parse_unsigned(offset).map(|offset| (offset, kind == b"n"))
                        }
                        _ => None,
                    }
                };
                let (offset, in_use) = parsed.ok_or_else(|| {
                    MarkError::corrupt(
                        FORMAT,
                        format!("the cross-reference entry for object {num} is malformed"),
                    )
                })?;
                Ok(Some(if in_use && num != 0 {
                    Entry::InUse { offset }
                } else {
                    Entry::Free
                }))
            }
            SectionKind::Stream { data_offset } => {
                let dict = &section.trailer;
                if !matches!(dict.get(b"Length"), Some(Obj::Int(_))) {
                    return Err(MarkError::corrupt(
                        FORMAT,
                        "the cross-reference stream's /Length is not a direct number",
                    ));
                }
                let data = self.stream_data(dict, *data_offset, MAX_INDIRECTION)?;
                xref_stream_entry(dict, &data, num)
            }
        }
    }

    /// Where `num` is, following the chain of sections from the last one.
    fn locate(&mut self, num: u64) -> Result<Option<Entry>, MarkError> {
        let mut next = Some(self.startxref);
        let mut seen = HashSet::new();
        while let Some(offset) = next {
            if !seen.insert(offset) {
                return Err(MarkError::corrupt(
                    FORMAT,
                    format!(
                        "the /Prev chain of cross-reference sections loops back to offset {offset}"
                    ),
                ));
            }
            if seen.len() > MAX_SECTIONS {
                return Err(MarkError::corrupt(
                    FORMAT,
                    "over 1024 cross-reference sections",
                ));
            }
            let section = self.section(offset)?;
            if let Some(entry) = self.entry_in(&section, num)? {
                return Ok(Some(entry));
            }
            if let (SectionKind::Table(_), Some(stream)) = (
                &section.kind,
                section.trailer.get(b"XRefStm").and_then(Obj::as_u64),
            ) {
                let hybrid = self.section(stream)?;
                if let SectionKind::Stream { .. } = hybrid.kind
                    && let Some(entry) = self.entry_in(&hybrid, num)?
                {
                    return Ok(Some(entry));
                }
            }
            next = section.trailer.get(b"Prev").and_then(Obj::as_u64);
        }
        Ok(None)
    }

    /// Object `num`, or `None` when it is free or absent.
    fn object(&mut self, num: u64, depth: usize) -> Result<Option<Loaded>, MarkError> {
        if depth > MAX_INDIRECTION {
            return Err(MarkError::corrupt(
                FORMAT,
                "indirect references nest too deeply",
            ));
        }
        match self.locate(num)? {
            None | Some(Entry::Free) => Ok(None),
            Some(Entry::InUse { offset }) => {
                let what = format!("object {num}");
                let indirect = self.src.parse_at(offset, &what, |p| p.indirect())?;
                if indirect.num != num {
                    return Err(MarkError::corrupt(
                        FORMAT,
                        format!(
                            "the cross-reference entry for object {num} points to offset {offset}, which holds object {}",
                            indirect.num
                        ),
                    ));
                }
                Ok(Some(Loaded {
                    obj: indirect.obj,
                    stream: indirect.stream.map(|rel| offset + rel as u64),
                }))
            }
            Some(Entry::Compressed { stream, index }) => {
                let not_stream = || {
                    MarkError::corrupt(
                        FORMAT,
                        format!(
                            "object {num} is said to be in object stream {stream}, which is not a stream"
                        ),
                    )
                };
                if stream == num {
                    return Err(not_stream());
                }
                let Some(Loaded {
                    obj: Obj::Dict(dict),
                    stream: Some(data_offset),
                }) = self.object(stream, depth + 1)?
                else {
                    return Err(not_stream());
                };
                let data = self.stream_data(&dict, data_offset, depth + 1)?;
                let what = format!("object stream {stream}");
                let count = dict
                    .get(b"N")
                    .and_then(Obj::as_u64)
                    .filter(|n| *n <= 10_000_000);
                let first = dict.get(b"First").and_then(Obj::as_u64);
                let (Some(count), Some(first)) = (count, first) else {
                    return Err(MarkError::corrupt(
                        FORMAT,
                        format!("{what} has no valid /N and /First"),
                    ));
                };
                let mut header = Parser::new(
                    data.get(..usize::try_from(first).unwrap_or(usize::MAX))
                        .unwrap_or(&data),
                    true,
                );
                let mut found = None;
                for position in 0..count {
                    header.skip_ws();
                    let number = header
                        .unsigned("an object number")
                        .map_err(|e| complete_error(e, &what))?;
                    header.skip_ws();
                    let offset = header
                        .unsigned("an object offset")
                        .map_err(|e| complete_error(e, &what))?;
                    if number == num && (found.is_none() || position == index) {
                        found = Some(offset);
                    }
                }
                let offset = found.ok_or_else(|| {
                    MarkError::corrupt(FORMAT, format!("object {num} is not in {what}"))
                })?;
                let start = first
                    .checked_add(offset)
                    .and_then(|start| usize::try_from(start).ok());
                let body = start.and_then(|start| data.get(start..)).ok_or_else(|| {
                    MarkError::corrupt(FORMAT, format!("{what} is shorter than its header says"))
                })?;
                let obj = Parser::new(body, true)
                    .object(0)
                    .map_err(|e| complete_error(e, &what))?;
                Ok(Some(Loaded { obj, stream: None }))
            }
        }
    }

    /// A stream's decoded data.
    fn stream_data(
        &mut self,
        dict: &Dict,
        data_offset: u64,
        depth: usize,
    ) -> Result<Vec<u8>, MarkError> {
        let length = match dict.get(b"Length") {
            Some(Obj::Int(length)) => u64::try_from(*length).ok(),
            Some(Obj::Ref(num, _)) if depth < MAX_INDIRECTION => {
                match self.object(*num, depth + 1)? {
                    Some(Loaded {
                        obj: Obj::Int(length),
                        ..
                    }) => u64::try_from(length).ok(),
                    _ => None,
                }
            }
            _ => None,
        };
        let length =
            length.ok_or_else(|| MarkError::corrupt(FORMAT, "a stream has no valid /Length"))?;
        if length > MAX_STREAM {
            return Err(MarkError::Unsupported(format!(
                "a {length}-byte cross-reference or object stream; Warden reads them up to 64 MiB"
            )));
        }
        if data_offset.saturating_add(length) > self.src.len {
            return Err(MarkError::truncated(
                FORMAT,
                "a stream runs past the end of the file",
            ));
        }
        let raw = self.src.read_at(data_offset, length)?;
        decode_stream(dict, raw)
    }
}

fn xref_stream_entry(dict: &Dict, data: &[u8], num: u64) -> Result<Option<Entry>, MarkError> {
    let corrupt =
        |detail: &str| MarkError::corrupt(FORMAT, format!("the cross-reference stream {detail}"));
    let widths: Vec<usize> = match dict.get(b"W") {
        Some(Obj::Array(items)) if items.len() == 3 => items
            .iter()
            .map(|item| item.as_u64().filter(|w| *w <= 8).map(|w| w as usize))
            .collect::<Option<_>>()
            .ok_or_else(|| corrupt("has an invalid /W"))?,
        _ => return Err(corrupt("has no valid /W")),
    };
    let row: usize = widths.iter().sum();
    if row == 0 {
        return Err(corrupt("has an empty /W"));
    }
    let ranges: Vec<(u64, u64)> = match dict.get(b"Index") {
        None => vec![(
            0,
            dict.get(b"Size")
                .and_then(Obj::as_u64)
                .ok_or_else(|| corrupt("has no /Size"))?,
        )],
        Some(Obj::Array(items)) if items.len() % 2 == 0 => items
            .chunks(2)
            .map(|pair| match pair {
                [first, count] => Some((first.as_u64()?, count.as_u64()?)),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(|| corrupt("has an invalid /Index"))?,
        Some(_) => return Err(corrupt("has an invalid /Index")),
    };
    let mut rows_before: u64 = 0;
    for (first, count) in ranges {
        if num >= first && num - first < count {
            let row_index = rows_before.saturating_add(num - first);
            let start = usize::try_from(row_index)
                .ok()
                .and_then(|r| r.checked_mul(row));
            let bytes = start
                .and_then(|start| data.get(start..start.checked_add(row)?))
                .ok_or_else(|| corrupt("is shorter than its /Index says"))?;
            let mut fields = [0u64; 3];
            let mut at = 0;
            for (field, width) in fields.iter_mut().zip(&widths) {
                for byte in bytes.get(at..at + width).unwrap_or_default() {
                    *field = *field << 8 | u64::from(*byte);
                }
                at += width;
            }
            let kind = if widths.first() == Some(&0) {
                1
            } else {
                fields[0]
            };
            return Ok(Some(match kind {
                1 if num != 0 => Entry::InUse { offset: fields[1] },
                2 => Entry::Compressed {
                    stream: fields[1],
                    index: fields[2],
                },
                _ => Entry::Free,
            }));
        }
        rows_before = rows_before.saturating_add(count);
    }
    Ok(None)
}

fn decode_stream(dict: &Dict, raw: Vec<u8>) -> Result<Vec<u8>, MarkError> {
    let filters: Vec<&[u8]> = match dict.get(b"Filter") {
        None | Some(Obj::Null) => Vec::new(),
        Some(Obj::Name(name)) => vec![name.as_slice()],
        Some(Obj::Array(items)) => items
            .iter()
            .map(Obj::as_name)
            .collect::<Option<_>>()
            .ok_or_else(|| MarkError::corrupt(FORMAT, "a stream /Filter array holds a non-name"))?,
        Some(_) => return Err(MarkError::corrupt(FORMAT, "a stream /Filter is not a name")),
    };
    let parms = match dict.get(b"DecodeParms") {
        Some(Obj::Dict(parms)) => Some(parms),
        Some(Obj::Array(items)) => match items.first() {
            Some(Obj::Dict(parms)) => Some(parms),
            _ => None,
        },
        _ => None,
    };
    match filters.as_slice() {
        [] => Ok(raw),
        [b"FlateDecode" | b"Fl"] => {
            let limit = usize::try_from(MAX_STREAM).unwrap_or(usize::MAX);
            let data = inflate::zlib(&raw, limit).map_err(|error| match error {
                inflate::Error::TooLarge => MarkError::Unsupported(
                    "a cross-reference or object stream that decompresses to over 64 MiB".into(),
                ),
                inflate::Error::Truncated => {
                    MarkError::corrupt(FORMAT, "a FlateDecode stream ends before its last block")
                }
                inflate::Error::Invalid(detail) => {
                    MarkError::corrupt(FORMAT, format!("a FlateDecode stream is invalid: {detail}"))
                }
            })?;
            unpredict(data, parms)
        }
        other => Err(MarkError::Unsupported(format!(
            "a cross-reference or object stream with filter {}; Warden decodes FlateDecode only",
            other
                .iter()
                .map(|name| String::from_utf8_lossy(name).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        ))),
    }
}

/// Undo a PNG predictor (`/Predictor` 10–15).
fn unpredict(data: Vec<u8>, parms: Option<&Dict>) -> Result<Vec<u8>, MarkError> {
    let get = |key: &[u8], default: u64| {
        parms
            .and_then(|parms| parms.get(key))
            .and_then(Obj::as_u64)
            .unwrap_or(default)
    };
    let predictor = get(b"Predictor", 1);
    if predictor <= 1 {
        return Ok(data);
    }
    if !(10..=15).contains(&predictor) {
        return Err(MarkError::Unsupported(format!(
            "a stream with /Predictor {predictor}; Warden undoes PNG predictors only"
        )));
    }
    let (columns, colors, bits) = (
        get(b"Columns", 1),
        get(b"Colors", 1),
        get(b"BitsPerComponent", 8),
    );
    if !(1..=1 << 20).contains(&columns)
        || !(1..=32).contains(&colors)
        || ![1, 2, 4, 8, 16].contains(&bits)
    {
        return Err(MarkError::corrupt(
            FORMAT,
            "a stream has invalid predictor parameters",
        ));
    }
    let bpp = usize::try_from((colors * bits).div_ceil(8))
        .unwrap_or(1)
        .max(1);
    let row_len = usize::try_from((columns * colors * bits).div_ceil(8)).unwrap_or(1);
    let mut out = Vec::with_capacity(data.len());
    let mut previous = vec![0u8; row_len];
    for chunk in data.chunks(row_len + 1) {
        let [filter, encoded @ ..] = chunk else { break };
        if encoded.len() < row_len {
            break; // A partial last row: ignore it.
        }
        let mut row = vec![0u8; row_len];
        for i in 0..row_len {
            let x = encoded.get(i).copied().unwrap_or(0);
            let left = if i >= bpp {
                row.get(i - bpp).copied().unwrap_or(0)
            } else {
                0
            };
            let up = previous.get(i).copied().unwrap_or(0);
            let up_left = if i >= bpp {
                previous.get(i - bpp).copied().unwrap_or(0)
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                4 => {
                    let p = i16::from(left) + i16::from(up) - i16::from(up_left);
                    let (pa, pb, pc) = (
                        (p - i16::from(left)).abs(),
                        (p - i16::from(up)).abs(),
                        (p - i16::from(up_left)).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        left
                    } else if pb <= pc {
                        up
                    } else {
                        up_left
                    }
                }
                other => {
                    return Err(MarkError::corrupt(
                        FORMAT,
                        format!("a stream has PNG filter type {other}"),
                    ));
                }
            };
            if let Some(slot) = row.get_mut(i) {
                *slot = x.wrapping_add(predicted);
            }
        }
        out.extend_from_slice(&row);
        previous = row;
    }
    Ok(out)
}

/// zlib (RFC 1950) decoding for cross-reference and object streams through `flate2`, with an
/// output limit against decompression bombs.
mod inflate {
    use flate2::{Decompress, FlushDecompress, Status};

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) enum Error {
        Truncated,
        TooLarge,
        Invalid(&'static str),
    }

    pub(super) fn zlib(data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
        let mut state = Decompress::new(true);
        let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit).min(1 << 20));
        loop {
            if out.len() == out.capacity() {
                if out.len() > limit {
                    return Err(Error::TooLarge);
                }
                out.reserve((out.len() + 1).min(limit + 1 - out.len()).max(1024));
            }
            let consumed = usize::try_from(state.total_in()).unwrap_or(usize::MAX);
            let input = data.get(consumed..).unwrap_or_default();
            let produced_before = state.total_out();
            let status = state
                .decompress_vec(input, &mut out, FlushDecompress::None)
                .map_err(|_| Error::Invalid("the zlib stream is malformed"))?;
            if out.len() > limit {
                return Err(Error::TooLarge);
            }
            match status {
                Status::StreamEnd => return Ok(out),
                _ if state.total_out() == produced_before
                    && usize::try_from(state.total_in()).unwrap_or(usize::MAX) >= data.len() =>
                {
                    return Err(Error::Truncated);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use zip::write::SimpleFileOptions;
    use zip::{CompressionMethod, ZipArchive, ZipWriter};

    use super::*;

    const VALUE: &str = r#"{"Label":"1","ContentProducer":"P(x)\\y","ProduceID":"a\"b","ReservedCode1":"","ContentPropagator":"P","PropagateID":"1","ReservedCode2":""}"#;

    /// A one-page PDF with a classic cross-reference table; `info` becomes object 4.
    fn classic_pdf(info: Option<&str>) -> Vec<u8> {
        let mut objects = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>".to_owned(),
        ];
        if let Some(info) = info {
            objects.push(info.to_owned());
        }
        let mut out = b"%PDF-1.4\n%AIGC-test\n".to_vec();
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
        let info_ref = if info.is_some() { " /Info 4 0 R" } else { "" };
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R{info_ref} /ID [<0011> <0011>] >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        writer.start_file("x", options).unwrap();
        writer.write_all(data).unwrap();
        let zip = writer.finish().unwrap().into_inner();
        let mut archive = ZipArchive::new(Cursor::new(zip)).unwrap();
        let mut deflated = Vec::new();
        archive
            .by_index_raw(0)
            .unwrap()
            .read_to_end(&mut deflated)
            .unwrap();
        let (mut a, mut b) = (1u32, 0u32);
        for byte in data {
            a = (a + u32::from(*byte)) % 65521;
            b = (b + a) % 65521;
        }
        [
            vec![0x78, 0x9C],
            deflated,
            (b << 16 | a).to_be_bytes().to_vec(),
        ]
        .concat()
    }

    /// A PDF 1.5 file: the Info dictionary (object 4) inside a compressed object stream (5) whose
    /// /Length is indirect (7), and a FlateDecode cross-reference stream (6) with a PNG predictor.
    fn stream_pdf() -> Vec<u8> {
        let mut out = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = [0u64; 8];
        for (num, body) in [
            (1, "<< /Type /Catalog /Pages 2 0 R >>"),
            (2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            (3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"),
        ] {
            offsets[num] = out.len() as u64;
            out.extend_from_slice(format!("{num} 0 obj\n{body}\nendobj\n").as_bytes());
        }
        let info = "<< /Title (Stream Title) /AIGC <6F6C64> /Producer (hand) >>";
        let header = "4 0 ";
        let packed = zlib(format!("{header}{info}").as_bytes());
        offsets[7] = out.len() as u64;
        out.extend_from_slice(format!("7 0 obj\n{}\nendobj\n", packed.len()).as_bytes());
        offsets[5] = out.len() as u64;
        out.extend_from_slice(
            format!("5 0 obj\n<< /Type /ObjStm /N 1 /First {} /Filter /FlateDecode /Length 7 0 R >>\nstream\n", header.len())
                .as_bytes(),
        );
        out.extend_from_slice(&packed);
        out.extend_from_slice(b"\nendstream\nendobj\n");
        offsets[6] = out.len() as u64;
        let rows: Vec<[u8; 7]> = (0..8u64)
            .map(|num| {
                let (kind, field2, field3): (u8, u64, u16) = match num {
                    0 => (0, 0, 65535),
                    4 => (2, 5, 0),
                    _ => (1, offsets[num as usize], 0),
                };
                let mut row = [0u8; 7];
                row[0] = kind;
                row[1..5].copy_from_slice(&(field2 as u32).to_be_bytes());
                row[5..7].copy_from_slice(&field3.to_be_bytes());
                row
            })
            .collect();
        let mut predicted = Vec::new();
        let mut previous = [0u8; 7];
        for row in &rows {
            predicted.push(2u8);
            predicted.extend(row.iter().zip(previous).map(|(x, up)| x.wrapping_sub(up)));
            previous = *row;
        }
        let packed = zlib(&predicted);
        out.extend_from_slice(
            format!(
                "6 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Info 4 0 R /ID [<AB> <AB>] /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 7 >> /Length {} >>\nstream\n",
                packed.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&packed);
        out.extend_from_slice(
            format!("\nendstream\nendobj\nstartxref\n{}\n%%EOF\n", offsets[6]).as_bytes(),
        );
        out
    }

    fn write_vec(input: &[u8], value: &str) -> Result<Vec<u8>, MarkError> {
        crate::formats::test_support::write_vec(write, input, value)
    }

    fn read_vec(input: &[u8]) -> Result<Vec<String>, MarkError> {
        crate::formats::test_support::read_vec(read, input)
    }

    /// The current Info dictionary.
    fn info(input: &[u8]) -> Dict {
        let mut cursor = Cursor::new(input.to_vec());
        let len = input.len() as u64;
        let tail = find_tail(&mut cursor, len).unwrap();
        let mut pdf = Pdf {
            src: Source {
                input: &mut cursor,
                len,
            },
            startxref: tail.startxref,
        };
        let last = pdf.section(tail.startxref).unwrap();
        let Some(Obj::Ref(num, _)) = last.trailer.get(b"Info") else {
            panic!("no /Info")
        };
        match pdf.object(*num, 0).unwrap() {
            Some(Loaded {
                obj: Obj::Dict(dict),
                ..
            }) => dict,
            _ => panic!("Info is not a dictionary"),
        }
    }

    #[test]
    fn round_trip_without_an_info_dictionary() {
        let input = classic_pdf(None);
        assert!(read_vec(&input).unwrap().is_empty());
        let out = write_vec(&input, VALUE).unwrap();
        assert!(
            out.starts_with(&input),
            "the original bytes are an exact prefix"
        );
        assert_eq!(read_vec(&out).unwrap(), vec![VALUE.to_owned()]);
        let update = String::from_utf8_lossy(out.get(input.len()..).unwrap()).into_owned();
        assert!(update.starts_with("4 0 obj\n<<\n/AIGC ("), "{update}");
        assert!(
            update.contains("/Size 5 /Root 1 0 R /Info 4 0 R /Prev "),
            "{update}"
        );
        assert!(update.contains("/ID [<0011> <0011>]"), "{update}");
        assert!(update.contains(r#"P\(x\)\\\\y"#), "{update}");
    }

    #[test]
    fn other_info_entries_survive_and_writing_twice_leaves_one_label() {
        let input = classic_pdf(Some(
            "<< /Title (Hello \\(world\\)) /Producer <FEFF0041> /AIGC (old) /AIGC (older) >>",
        ));
        assert_eq!(
            read_vec(&input).unwrap(),
            vec!["old".to_owned(), "older".to_owned()]
        );
        let once = write_vec(&input, "first").unwrap();
        let twice = write_vec(&once, VALUE).unwrap();
        assert!(twice.starts_with(&once) && once.starts_with(&input));
        assert_eq!(read_vec(&once).unwrap(), vec!["first".to_owned()]);
        assert_eq!(read_vec(&twice).unwrap(), vec![VALUE.to_owned()]);
        let dict = info(&twice);
        assert_eq!(dict.raw_value(b"Title"), Some(&b"(Hello \\(world\\))"[..]));
        assert_eq!(
            dict.get(b"Producer"),
            Some(&Obj::Str(b"\xFE\xFF\x00A".to_vec()))
        );
        assert_eq!(dict.entries.iter().filter(|e| e.key == b"AIGC").count(), 1);
        // The Info dictionary kept its object number.
        let update = String::from_utf8_lossy(twice.get(once.len()..).unwrap()).into_owned();
        assert!(
            update.starts_with("4 0 obj\n") && update.contains("xref\n4 1\n"),
            "{update}"
        );
    }

    #[test]
    fn cross_reference_streams_and_object_streams() {
        let input = stream_pdf();
        assert_eq!(read_vec(&input).unwrap(), vec!["old".to_owned()]);
        let out = write_vec(&input, VALUE).unwrap();
        assert!(out.starts_with(&input));
        assert_eq!(read_vec(&out).unwrap(), vec![VALUE.to_owned()]);
        let dict = info(&out);
        assert_eq!(
            dict.get(b"Title"),
            Some(&Obj::Str(b"Stream Title".to_vec()))
        );
        assert_eq!(dict.get(b"Producer"), Some(&Obj::Str(b"hand".to_vec())));
        let update = String::from_utf8_lossy(out.get(input.len()..).unwrap()).into_owned();
        assert!(update.contains("8 0 obj\n<< /Type /XRef /Size 9 /Index [4 1 8 1] /W [1 8 2] /Root 1 0 R /Info 4 0 R /Prev "), "{update}");
        let again = write_vec(&out, "v2").unwrap();
        assert_eq!(read_vec(&again).unwrap(), vec!["v2".to_owned()]);
        assert!(
            String::from_utf8_lossy(again.get(out.len()..).unwrap())
                .contains("9 0 obj\n<< /Type /XRef /Size 10")
        );
    }

    #[test]
    fn strings_hex_utf16_and_octal_escapes() {
        let input = classic_pdf(Some("<< /AIGC <FEFF004100E9> >>"));
        assert_eq!(read_vec(&input).unwrap(), vec!["Aé".to_owned()]);
        let input = classic_pdf(Some("<< /AIGC (a\\101\\)b\\\nc) >>"));
        assert_eq!(read_vec(&input).unwrap(), vec!["aA)bc".to_owned()]);
        for value in ["tab\there\u{1}", "中文 label", "(((", ""] {
            let out = write_vec(&classic_pdf(None), value).unwrap();
            assert_eq!(read_vec(&out).unwrap(), vec![value.to_owned()], "{value}");
        }
        assert_eq!(pdf_string("a\tb"), b"(a\\011b)".to_vec());
    }

    #[test]
    fn a_missing_final_newline_is_added_after_the_original_bytes() {
        let mut input = classic_pdf(None);
        input.pop();
        let out = write_vec(&input, "v").unwrap();
        assert!(out.starts_with(&input));
        assert_eq!(out.get(input.len()), Some(&b'\n'));
        assert_eq!(read_vec(&out).unwrap(), vec!["v".to_owned()]);
    }

    #[test]
    fn irregular_xref_tables_are_read_by_tokens() {
        let input = classic_pdf(Some("<< /AIGC (x) >>"));
        // Entries with one-byte line endings (19 bytes), as some writers produce.
        // The table follows every object, so its offset does not move.
        let fixed = String::from_utf8(input.clone())
            .unwrap()
            .replace(" n\r\n", " n\n")
            .replace(" f\r\n", " f\n");
        assert_eq!(input.len() - fixed.len(), 5);
        assert_eq!(read_vec(fixed.as_bytes()).unwrap(), vec!["x".to_owned()]);
        let out = write_vec(fixed.as_bytes(), "y").unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec!["y".to_owned()]);
    }

    #[test]
    fn encrypted_files_are_refused() {
        let input = String::from_utf8_lossy(&classic_pdf(None))
            .replace("/Root 1 0 R", "/Root 1 0 R /Encrypt 9 0 R");
        assert!(matches!(
            read_vec(input.as_bytes()),
            Err(MarkError::Unsupported(_))
        ));
        assert!(matches!(
            write_vec(input.as_bytes(), "v"),
            Err(MarkError::Unsupported(_))
        ));
    }

    #[test]
    fn truncated_and_corrupt_files_are_errors_not_panics() {
        let input = classic_pdf(Some("<< /Title (t) >>"));
        for len in 0..input.len() - 1 {
            let cut = input.get(..len).unwrap();
            let error = read_vec(cut).unwrap_err();
            assert!(
                matches!(error, MarkError::Truncated { .. }),
                "{len}: {error}"
            );
            assert!(write_vec(cut, "v").is_err());
        }
        for base in [write_vec(&input, VALUE).unwrap(), stream_pdf()] {
            for at in 0..base.len() {
                let mut damaged = base.clone();
                if let Some(byte) = damaged.get_mut(at) {
                    *byte ^= 0x21;
                }
                let _ = read_vec(&damaged);
                let _ = write_vec(&damaged, "v");
            }
        }
        let text = String::from_utf8_lossy(&input).into_owned();
        let xref = text.rfind("\nxref").unwrap() + 1;
        let looping = text.replace("/Info 4 0 R", &format!("/Info 9 0 R /Prev {xref}"));
        let error = read_vec(looping.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("loops"), "{error}");
        let past_end = text.replace(&format!("startxref\n{xref}"), "startxref\n999999");
        assert!(
            read_vec(past_end.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("past the end")
        );
        let garbage = text.replace(&format!("startxref\n{xref}"), "startxref\n20");
        assert!(matches!(
            read_vec(garbage.as_bytes()),
            Err(MarkError::Corrupt { .. })
        ));
        let nested = classic_pdf(Some(&format!(
            "<< /AIGC {}1{} >>",
            "[".repeat(500),
            "]".repeat(500)
        )));
        assert!(
            read_vec(&nested)
                .unwrap_err()
                .to_string()
                .contains("nest too deeply")
        );
        assert!(read_vec(b"not a pdf at all").is_err());
        assert!(read_vec(b"%PDF-1.4\nstartxref\nabc\n%%EOF\n").is_err());
    }

    #[test]
    fn inflate_handles_stored_fixed_and_dynamic_blocks() {
        let mut text = Vec::new();
        let mut seed = 7u32;
        for index in 0..200_000u32 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            // Half compressible text, half noise (stored blocks).
            text.push(if index < 100_000 {
                b"abcdefgh "[(seed >> 16) as usize % 9]
            } else {
                (seed >> 16) as u8
            });
        }
        for sample in [&b""[..], b"a", b"hello hello hello hello", &text] {
            assert_eq!(inflate::zlib(&zlib(sample), 1 << 20).unwrap(), sample);
        }
        assert_eq!(
            inflate::zlib(&zlib(&text), 1000),
            Err(inflate::Error::TooLarge)
        );
        let packed = zlib(&text);
        assert_eq!(
            inflate::zlib(packed.get(..packed.len() / 2).unwrap(), 1 << 20),
            Err(inflate::Error::Truncated)
        );
        for at in 0..200 {
            let mut damaged = packed.clone();
            if let Some(byte) = damaged.get_mut(at) {
                *byte ^= 0xFF;
            }
            let _ = inflate::zlib(&damaged, 1 << 20);
        }
    }
}
