//! XMP packets carrying the label as the TC260 guides place it: property `AIGC` in namespace
//! `http://www.tc260.org.cn/ns/AIGC/1.0/` (prefix `TC260`), either as an element
//! `<TC260:AIGC>…</TC260:AIGC>` (plain text, or an `rdf:Alt`/`rdf:Seq`/`rdf:Bag` of `rdf:li`) or as
//! an attribute `TC260:AIGC="…"`.
//!
//! Packets are read with a real XML parser (`quick-xml`) and names are resolved through their
//! namespace bindings, so any prefix bound to the namespace counts, and look-alikes inside
//! comments, CDATA sections or processing instructions do not. Writing keeps the packet's bytes:
//! the parser's byte positions locate every label, the first one's value is replaced in place and
//! the others are cut out, and every other byte is copied. A packet that is not well-formed XML
//! cannot be edited safely (a label past the error could survive), so it is replaced by a fresh
//! packet holding only the label.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// The TC260 AIGC namespace URI.
pub const NAMESPACE: &str = "http://www.tc260.org.cn/ns/AIGC/1.0/";
/// The prefix Warden writes.
pub const PREFIX: &str = "TC260";

/// Escape text for XML element content or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// Undo XML escaping: the five named entities and numeric references.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after.find(';').filter(|semi| *semi <= 10) else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A complete XMP packet holding only the label.
pub fn new_packet(value: &str) -> String {
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n \
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  \
         {}\n \
         </rdf:RDF>\n\
         </x:xmpmeta>\n\
         <?xpacket end=\"w\"?>",
        description(value, "")
    )
}

/// An `rdf:Description` holding only the label; `declare` binds `rdf` where the packet doesn't.
fn description(value: &str, declare: &str) -> String {
    format!(
        "<rdf:Description{declare} rdf:about=\"\" xmlns:{PREFIX}=\"{NAMESPACE}\">\n   <{PREFIX}:AIGC>{}</{PREFIX}:AIGC>\n  </rdf:Description>",
        escape(value)
    )
}

/// The RDF namespace URI.
const RDF_NAMESPACE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// Escape text for a quoted attribute value: besides [`escape`], both quotes, and the whitespace
/// characters that attribute-value normalisation would turn into spaces.
fn escape_attribute(text: &str) -> String {
    escape(text)
        .replace('\'', "&apos;")
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
}

/// What to write where a label's value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Element content, `start..end`: replaced by the escaped value (an `rdf:Alt` becomes text).
    Content { start: usize, end: usize },
    /// A quoted attribute value without its quotes.
    Attribute { start: usize, end: usize },
    /// An empty element `<p:AIGC/>` spanning `start..end`, rewritten with content.
    Empty {
        start: usize,
        end: usize,
        name: String,
    },
}

/// One label property in a packet.
#[derive(Debug, Clone)]
struct Occurrence {
    /// Byte range removed when this is a duplicate: the whole element, or the attribute with the
    /// whitespace before it.
    start: usize,
    end: usize,
    slot: Slot,
    /// Raw (still escaped) text directly inside a label element.
    direct: String,
    /// `rdf:li` items under a label element: `xml:lang` and raw text.
    items: Vec<(Option<String>, String)>,
    /// The value, unescaped, once known.
    value: Option<String>,
}

impl Occurrence {
    fn value(&self) -> String {
        if let Some(value) = &self.value {
            return value.clone();
        }
        let raw = self
            .items
            .iter()
            .find(|(lang, _)| lang.as_deref() == Some("x-default"))
            .or_else(|| self.items.first())
            .map_or(self.direct.as_str(), |(_, text)| text.as_str());
        unescape(raw.trim())
    }
}

/// A packet's label properties and where its `rdf:RDF` element ends.
#[derive(Debug, Default)]
struct Parsed {
    labels: Vec<Occurrence>,
    /// Byte offset of the first `rdf:RDF` end tag, with the prefix that element uses.
    rdf_close: Option<(usize, String)>,
    /// False when the packet is not well-formed XML (parsing stopped at the error).
    well_formed: bool,
}

/// One open element while parsing.
enum Frame {
    Other,
    /// A label element: index into `Parsed::labels`.
    Label(usize),
    /// An `rdf:li` under a label element: label index and item index.
    Item(usize, usize),
}

/// `part`'s byte offset inside `base`, when it is a slice of it (the parser borrows from the
/// packet, so attribute keys and values are).
fn offset_in(base: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(base.as_ptr() as usize)?;
    (start + part.len() <= base.len()).then_some(start)
}

fn is_tc260(resolved: &ResolveResult<'_>) -> bool {
    matches!(resolved, ResolveResult::Bound(ns) if ns.0 == NAMESPACE)
}

fn is_rdf(resolved: &ResolveResult<'_>) -> bool {
    matches!(resolved, ResolveResult::Bound(ns) if ns.0 == RDF_NAMESPACE)
}

/// Label attributes on one start or empty tag; `Err` when the tag's attributes are malformed.
fn attribute_labels(
    packet: &str,
    reader: &NsReader<&[u8]>,
    tag: &BytesStart<'_>,
) -> Result<Vec<Occurrence>, ()> {
    let mut found = Vec::new();
    for attribute in tag.attributes() {
        let attribute = attribute.map_err(|_| ())?;
        let (resolved, local) = reader.resolver().resolve_attribute(attribute.key);
        if !is_tc260(&resolved) || local.as_ref() != "AIGC" {
            continue;
        }
        let (Some(key_at), Some(value_at)) = (
            offset_in(packet, attribute.key.as_ref()),
            offset_in(packet, &attribute.value),
        ) else {
            // Not borrowed from the packet: the span cannot be located, so refuse to edit.
            return Err(());
        };
        let value_end = value_at + attribute.value.len();
        // Include the whitespace before the attribute so removing it leaves tidy XML.
        let bytes = packet.as_bytes();
        let mut begin = key_at;
        while begin > 0 && bytes.get(begin - 1).is_some_and(u8::is_ascii_whitespace) {
            begin -= 1;
        }
        found.push(Occurrence {
            start: begin,
            end: value_end + 1,
            slot: Slot::Attribute {
                start: value_at,
                end: value_end,
            },
            direct: String::new(),
            items: Vec::new(),
            value: Some(unescape(attribute.value.trim())),
        });
    }
    Ok(found)
}

fn lang_of(tag: &BytesStart<'_>) -> Option<String> {
    tag.attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == "xml:lang")
        .map(|attribute| unescape(&attribute.value))
}

fn parse(packet: &str) -> Parsed {
    let mut parsed = Parsed::default();
    // The reader skips a leading byte-order mark and counts positions after it: parse what
    // follows it and add its length back, so positions index `packet`.
    let body = packet.strip_prefix('\u{feff}').unwrap_or(packet);
    let base = packet.len() - body.len();
    let mut reader = NsReader::from_str(body);
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let Ok(start) = usize::try_from(reader.buffer_position()) else {
            return parsed;
        };
        let start = start + base;
        let Ok((resolved, event)) = reader.read_resolved_event() else {
            return parsed;
        };
        // Only whether the name is in one of the two namespaces matters; the resolution
        // borrows the reader, which the attribute checks below need again.
        let (in_tc260, in_rdf) = (is_tc260(&resolved), is_rdf(&resolved));
        let Ok(end) = usize::try_from(reader.buffer_position()) else {
            return parsed;
        };
        let end = end + base;
        match event {
            Event::Start(tag) | Event::Empty(tag) => {
                let empty = end >= 2 && packet.get(end - 2..end) == Some("/>");
                let Ok(attributes) = attribute_labels(packet, &reader, &tag) else {
                    return parsed;
                };
                parsed.labels.extend(attributes);
                let local = tag.local_name();
                let frame = if in_tc260 && local.as_ref() == "AIGC" {
                    let slot = if empty {
                        Slot::Empty {
                            start,
                            end,
                            name: tag.name().as_ref().to_owned(),
                        }
                    } else {
                        Slot::Content { start: end, end }
                    };
                    parsed.labels.push(Occurrence {
                        start,
                        end,
                        slot,
                        direct: String::new(),
                        items: Vec::new(),
                        value: empty.then(String::new),
                    });
                    Frame::Label(parsed.labels.len() - 1)
                } else if in_rdf && local.as_ref() == "li" {
                    let owner = stack.iter().rev().find_map(|frame| match frame {
                        Frame::Label(index) => Some(*index),
                        _ => None,
                    });
                    match owner.and_then(|index| parsed.labels.get_mut(index).map(|l| (index, l))) {
                        Some((index, label)) => {
                            label.items.push((lang_of(&tag), String::new()));
                            Frame::Item(index, label.items.len() - 1)
                        }
                        None => Frame::Other,
                    }
                } else {
                    Frame::Other
                };
                if !empty {
                    stack.push(frame);
                }
            }
            Event::End(tag) => {
                if let Some(Frame::Label(index)) = stack.pop()
                    && let Some(label) = parsed.labels.get_mut(index)
                {
                    label.end = end;
                    if let Slot::Content { end: content, .. } = &mut label.slot {
                        *content = start;
                    }
                }
                let (resolved, local) = reader.resolver().resolve_element(tag.name());
                if is_rdf(&resolved) && local.as_ref() == "RDF" && parsed.rdf_close.is_none() {
                    let prefix = tag.name().prefix().map(|p| p.as_ref().to_owned());
                    parsed.rdf_close = Some((start, prefix.unwrap_or_default()));
                }
            }
            Event::Text(_) | Event::GeneralRef(_) | Event::CData(_) => {
                // Keep the raw (escaped) form; a CDATA section is literal text, so escape it.
                let raw = match &event {
                    Event::CData(cdata) => escape(cdata),
                    _ => packet.get(start..end).unwrap_or_default().to_owned(),
                };
                match stack.last() {
                    Some(Frame::Label(index)) => {
                        if let Some(label) = parsed.labels.get_mut(*index) {
                            label.direct.push_str(&raw);
                        }
                    }
                    Some(Frame::Item(index, item)) => {
                        if let Some((_, text)) = parsed
                            .labels
                            .get_mut(*index)
                            .and_then(|label| label.items.get_mut(*item))
                        {
                            text.push_str(&raw);
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => {
                parsed.well_formed = stack.is_empty();
                return parsed;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Every label value in the packet, unescaped, in document order. In a packet that is not
/// well-formed XML, the labels before the error.
pub fn read_values(packet: &str) -> Vec<String> {
    parse(packet).labels.iter().map(Occurrence::value).collect()
}

/// `packet` with exactly one label property holding `value`; everything else is kept.
pub fn set_value(packet: &str, value: &str) -> String {
    let mut parsed = parse(packet);
    if !parsed.well_formed {
        return new_packet(value);
    }
    parsed.labels.sort_by_key(|label| label.start);
    if let Some(first) = parsed.labels.first() {
        let (slot_start, slot_end, text) = match &first.slot {
            Slot::Content { start, end } => (*start, *end, escape(value)),
            Slot::Attribute { start, end } => (*start, *end, escape_attribute(value)),
            Slot::Empty { start, end, name } => {
                // The tag is rewritten whole, so label attributes on it are cut here.
                let mut open = String::new();
                let mut at = *start;
                for label in parsed.labels.iter().skip(1) {
                    if label.start >= at && label.end <= *end {
                        open.push_str(packet.get(at..label.start).unwrap_or_default());
                        at = label.end;
                    }
                }
                open.push_str(packet.get(at..*end).unwrap_or_default());
                let open = open.strip_suffix("/>").unwrap_or(&open).trim_end();
                (*start, *end, format!("{open}>{}</{name}>", escape(value)))
            }
        };
        // The edits in byte order: the first label's value, then every other label cut out. An
        // edit starting inside an earlier one is part of what that one replaced (a label nested
        // in the first's content, or inside a removed element); a label attribute on the first
        // label's own start tag comes before its content, so it is still cut.
        let mut edits = vec![(slot_start, slot_end, text)];
        edits.extend(
            parsed
                .labels
                .iter()
                .skip(1)
                .map(|label| (label.start, label.end, String::new())),
        );
        edits.sort_by_key(|(start, _, _)| *start);
        let mut out = String::with_capacity(packet.len() + value.len());
        let mut cursor = 0;
        for (start, end, text) in edits {
            if start < cursor {
                continue;
            }
            out.push_str(packet.get(cursor..start).unwrap_or_default());
            out.push_str(&text);
            cursor = end;
        }
        out.push_str(packet.get(cursor..).unwrap_or_default());
        return out;
    }
    match parsed.rdf_close {
        Some((at, prefix)) => {
            let declare = if prefix == "rdf" {
                String::new()
            } else {
                format!(" xmlns:rdf=\"{RDF_NAMESPACE}\"")
            };
            format!(
                "{}{}\n {}",
                packet.get(..at).unwrap_or_default(),
                description(value, &declare),
                packet.get(at..).unwrap_or_default()
            )
        }
        None => new_packet(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = r#"{"Label":"1","ContentProducer":"P&Q<>","ProduceID":"1"}"#;

    #[test]
    fn a_new_packet_round_trips_the_value() {
        let packet = new_packet(VALUE);
        assert!(packet.contains("xmlns:TC260=\"http://www.tc260.org.cn/ns/AIGC/1.0/\""));
        assert_eq!(read_values(&packet), vec![VALUE.to_owned()]);
    }

    #[test]
    fn reads_the_attribute_form_and_other_prefixes() {
        let packet = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:aigc="http://www.tc260.org.cn/ns/AIGC/1.0/" aigc:AIGC="{&quot;Label&quot;:&quot;1&quot;}"/></rdf:RDF></x:xmpmeta>"#;
        assert_eq!(read_values(packet), vec![r#"{"Label":"1"}"#.to_owned()]);
        let replaced = set_value(packet, "{}");
        assert_eq!(read_values(&replaced), vec!["{}".to_owned()]);
    }

    #[test]
    fn setting_keeps_other_properties_and_leaves_exactly_one_label() {
        let existing = format!(
            "<x:xmpmeta><rdf:RDF xmlns:rdf=\"r\"><rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>Ann</dc:creator></rdf:Description>{}{}</rdf:RDF></x:xmpmeta>",
            description("old-1", ""),
            description("old-2", "")
        );
        assert_eq!(read_values(&existing).len(), 2);
        let updated = set_value(&existing, VALUE);
        assert_eq!(read_values(&updated), vec![VALUE.to_owned()]);
        assert!(updated.contains("<dc:creator>Ann</dc:creator>"));
        let added = set_value(
            "<x:xmpmeta><rdf:RDF xmlns:rdf=\"r\"></rdf:RDF></x:xmpmeta>",
            VALUE,
        );
        assert_eq!(read_values(&added), vec![VALUE.to_owned()]);
        assert_eq!(
            read_values(&set_value("garbage", VALUE)),
            vec![VALUE.to_owned()]
        );
    }

    #[test]
    fn unescape_handles_numeric_and_broken_entities() {
        assert_eq!(
            unescape("&#65;&#x42;&amp;&bogus; & end"),
            "AB&&bogus; & end"
        );
    }

    fn wrap(description: &str) -> String {
        format!(
            "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"{RDF_NAMESPACE}\">{description}</rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>"
        )
    }

    #[test]
    fn issue_10_xmp_attribute_form_with_any_prefix_is_read_and_replaced() {
        let packet = wrap(&format!(
            "<rdf:Description rdf:about=\"\" xmlns:t=\"{NAMESPACE}\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" t:AIGC='old &apos;one&apos;' dc:format=\"image/png\"/>"
        ));
        assert_eq!(read_values(&packet), vec!["old 'one'".to_owned()]);
        let value = "it's \"new\"\nline";
        let updated = set_value(&packet, value);
        assert_eq!(read_values(&updated), vec![value.to_owned()]);
        assert!(updated.contains("dc:format=\"image/png\""));
        // A prefix spelled TC260 but bound elsewhere is not the label.
        let other = wrap(
            "<rdf:Description xmlns:TC260=\"urn:other\" TC260:AIGC=\"not a label\"><TC260:AIGC>no</TC260:AIGC></rdf:Description>",
        );
        assert!(read_values(&other).is_empty());
        let added = set_value(&other, VALUE);
        assert_eq!(read_values(&added), vec![VALUE.to_owned()]);
        assert!(added.contains("TC260:AIGC=\"not a label\""));
    }

    #[test]
    fn issue_10_xmp_rdf_alt_is_one_label_and_is_replaced_whole() {
        let packet = wrap(&format!(
            "<rdf:Description xmlns:a=\"{NAMESPACE}\"><a:AIGC><rdf:Alt><rdf:li xml:lang=\"zh-CN\">zh</rdf:li><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></a:AIGC></rdf:Description>",
            escape(VALUE)
        ));
        assert_eq!(read_values(&packet), vec![VALUE.to_owned()]);
        let updated = set_value(&packet, "new");
        assert_eq!(read_values(&updated), vec!["new".to_owned()]);
        assert!(!updated.contains("rdf:Alt"));
    }

    #[test]
    fn issue_10_xmp_comments_cdata_and_pis_hold_no_label() {
        let fake = format!(
            "<!-- <TC260:AIGC>fake</TC260:AIGC> --><?pi <TC260:AIGC>fake</TC260:AIGC>?><rdf:Description xmlns:TC260=\"{NAMESPACE}\"><dc:x xmlns:dc=\"d\"><![CDATA[<TC260:AIGC>fake</TC260:AIGC>]]></dc:x></rdf:Description>"
        );
        let packet = wrap(&fake);
        assert!(read_values(&packet).is_empty());
        let updated = set_value(&packet, VALUE);
        assert_eq!(read_values(&updated), vec![VALUE.to_owned()]);
        assert!(
            updated.contains(&fake),
            "the comment, PI and CDATA are kept"
        );
        // CDATA inside a real label is its literal text.
        let cdata = wrap(&format!(
            "<rdf:Description xmlns:TC260=\"{NAMESPACE}\"><TC260:AIGC><![CDATA[a<b]]><!-- c --></TC260:AIGC></rdf:Description>"
        ));
        assert_eq!(read_values(&cdata), vec!["a<b".to_owned()]);
    }

    #[test]
    fn issue_10_xmp_every_form_at_once_leaves_exactly_one_label() {
        let packet = wrap(&format!(
            "<rdf:Description xmlns:p=\"{NAMESPACE}\" p:AIGC=\"attr\"><p:AIGC>element</p:AIGC><p:AIGC/></rdf:Description><rdf:Description xmlns:q=\"{NAMESPACE}\"><q:AIGC xml:lang=\"en\"><rdf:Alt><rdf:li>alt</rdf:li></rdf:Alt></q:AIGC></rdf:Description>"
        ));
        assert_eq!(
            read_values(&packet),
            vec!["attr", "element", "", "alt"]
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        );
        for value in ["x", VALUE] {
            let once = set_value(&packet, value);
            assert_eq!(read_values(&once), vec![value.to_owned()]);
            let twice = set_value(&once, "second");
            assert_eq!(read_values(&twice), vec!["second".to_owned()]);
        }
        // A label attribute on the label element itself.
        let both = wrap(&format!(
            "<rdf:Description xmlns:p=\"{NAMESPACE}\"><p:AIGC p:AIGC=\"a\">e</p:AIGC></rdf:Description>"
        ));
        assert_eq!(read_values(&both).len(), 2);
        assert_eq!(read_values(&set_value(&both, "v")), vec!["v".to_owned()]);
        // ... or on an empty label element.
        let both = wrap(&format!(
            "<rdf:Description xmlns:p=\"{NAMESPACE}\"><p:AIGC p:AIGC=\"a\" x=\"1\" /></rdf:Description>"
        ));
        assert_eq!(read_values(&both).len(), 2);
        let updated = set_value(&both, "v");
        assert_eq!(read_values(&updated), vec!["v".to_owned()]);
        assert!(updated.contains("<p:AIGC x=\"1\">v</p:AIGC>"), "{updated}");
        // An empty element as the only label gets content.
        let empty = wrap(&format!(
            "<rdf:Description xmlns:p=\"{NAMESPACE}\"><p:AIGC /></rdf:Description>"
        ));
        assert_eq!(read_values(&set_value(&empty, "v")), vec!["v".to_owned()]);
    }

    #[test]
    fn issue_10_xmp_malformed_packets_are_replaced_whole() {
        let packet =
            format!("<x xmlns:t=\"{NAMESPACE}\"><t:AIGC>a</t:AIGC><oops></x><t:AIGC>b</t:AIGC>");
        let updated = set_value(&packet, VALUE);
        assert_eq!(updated, new_packet(VALUE));
        assert_eq!(read_values(&updated), vec![VALUE.to_owned()]);
    }

    #[test]
    fn issue_10_fuzz_xmp_leading_bom_keeps_byte_positions() {
        let packet = format!(
            "\u{feff}<x xmlns:t=\"{NAMESPACE}\"><t:AIGC>old</t:AIGC><rdf:RDF xmlns:rdf=\"{RDF_NAMESPACE}\"/></x>"
        );
        assert_eq!(read_values(&packet), vec!["old".to_owned()]);
        let updated = set_value(&packet, VALUE);
        assert_eq!(read_values(&updated), vec![VALUE.to_owned()]);
        assert!(updated.starts_with("\u{feff}<x "));
    }
}
