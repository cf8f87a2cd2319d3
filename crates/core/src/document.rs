//! Report documents: a title, headline bullets, tables and closing lists, rendered as Markdown or
//! as one self-contained HTML page (no scripts, no external assets). Every report Warden prints
//! (evaluation runs, gate scorecards) is built as a [`Document`], so escaping is done once, here.

use std::fmt::Write as _;

/// A table: a title, a header row and rows of cells (plain text; escaped when rendered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Per row, an anchor in this document its first cell links to (HTML only); rows past the
    /// end of this list have no link.
    pub row_links: Vec<Option<String>>,
}

/// One example in a [`Section`]: a one-line summary and labelled texts, each shown clipped with
/// the whole text one click away (HTML `<details>`, no script).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Example {
    pub summary: String,
    pub fields: Vec<(String, String)>,
}

/// A titled list of examples with an anchor that tables can link to (HTML only: a terminal
/// report names the command that lists them instead).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    /// The anchor: `[A-Za-z0-9_-]` only, unique in the document.
    pub id: String,
    pub title: String,
    pub examples: Vec<Example>,
    /// Examples left out of the page, and how to see them.
    pub more: Option<String>,
}

/// Characters of a field shown before "show all".
const CLIP: usize = 400;

/// A report: headline bullets, tables, then titled bullet lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub headline: Vec<String>,
    pub tables: Vec<Table>,
    /// Closing sections, e.g. ("Residual risk", notes); empty lists are left out.
    pub lists: Vec<(String, Vec<String>)>,
    /// Sections of examples after the tables (HTML only).
    pub sections: Vec<Section>,
}

/// An anchor id made from any text: ASCII letters and digits kept, everything else `-`, with a
/// hash suffix so distinct texts never share an anchor.
pub fn anchor(prefix: &str, text: &str) -> String {
    let slug: String = text
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{prefix}-{slug}-{:08x}", hash as u32)
}

/// Text made safe for a Markdown table cell or bullet: pipes and backslashes escaped, line breaks
/// as spaces. Angle brackets and ampersands stay as they are: Markdown is read on the terminal,
/// where `&lt;` would show as such; HTML output is escaped by [`html_escape`].
pub fn markdown_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Text made safe for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl Document {
    /// The document as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n\n", markdown_cell(&self.title));
        for line in &self.headline {
            let _ = writeln!(out, "- {}", markdown_cell(line));
        }
        for table in &self.tables {
            let header: Vec<String> = table.header.iter().map(|h| markdown_cell(h)).collect();
            let _ = write!(
                out,
                "\n## {}\n\n| {} |\n|",
                markdown_cell(&table.title),
                header.join(" | ")
            );
            for _ in &table.header {
                out.push_str("---|");
            }
            out.push('\n');
            for row in &table.rows {
                let cells: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
        for (title, items) in self.lists.iter().filter(|(_, items)| !items.is_empty()) {
            let _ = writeln!(out, "\n## {}\n", markdown_cell(title));
            for item in items {
                let _ = writeln!(out, "- {}", markdown_cell(item));
            }
        }
        out
    }

    /// The document as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        let title = html_escape(&self.title);
        let mut out = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{title}</title>\n\
             <style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}}\
             table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}}\
             th{{background:#f3f3f3}}pre{{white-space:pre-wrap;margin:0}}</style></head><body>\n<h1>{title}</h1>\n<ul>\n"
        );
        for line in &self.headline {
            let _ = writeln!(out, "<li>{}</li>", html_escape(line));
        }
        out.push_str("</ul>\n");
        for table in &self.tables {
            let _ = writeln!(out, "<h2>{}</h2>\n<table><tr>", html_escape(&table.title));
            for cell in &table.header {
                let _ = write!(out, "<th>{}</th>", html_escape(cell));
            }
            out.push_str("</tr>\n");
            for (index, row) in table.rows.iter().enumerate() {
                out.push_str("<tr>");
                let link = table.row_links.get(index).cloned().flatten();
                for (column, cell) in row.iter().enumerate() {
                    match &link {
                        Some(id) if column == 0 => {
                            let _ = write!(
                                out,
                                "<td><a href=\"#{}\">{}</a></td>",
                                html_escape(id),
                                html_escape(cell)
                            );
                        }
                        _ => {
                            let _ = write!(out, "<td>{}</td>", html_escape(cell));
                        }
                    }
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
        }
        for (title, items) in self.lists.iter().filter(|(_, items)| !items.is_empty()) {
            let _ = writeln!(out, "<h2>{}</h2>\n<ul>", html_escape(title));
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", html_escape(item));
            }
            out.push_str("</ul>\n");
        }
        for section in &self.sections {
            let _ = writeln!(
                out,
                "<section id=\"{}\">\n<h2>{}</h2>",
                html_escape(&section.id),
                html_escape(&section.title)
            );
            for example in &section.examples {
                let _ = writeln!(
                    out,
                    "<details><summary>{}</summary>\n<dl>",
                    html_escape(&example.summary)
                );
                for (label, text) in &example.fields {
                    let _ = writeln!(
                        out,
                        "<dt>{}</dt><dd>{}</dd>",
                        html_escape(label),
                        clipped(text)
                    );
                }
                out.push_str("</dl></details>\n");
            }
            if let Some(more) = &section.more {
                let _ = writeln!(out, "<p>{}</p>", html_escape(more));
            }
            out.push_str("</section>\n");
        }
        out.push_str("</body></html>\n");
        out
    }
}

/// `text` escaped for HTML, in a `<pre>`; past [`CLIP`] characters the rest sits behind a
/// "show all" disclosure.
fn clipped(text: &str) -> String {
    let count = text.chars().count();
    if count <= CLIP {
        return format!("<pre>{}</pre>", html_escape(text));
    }
    let head: String = text.chars().take(CLIP).collect();
    format!(
        "<pre>{}…</pre><details><summary>show all ({count} characters)</summary><pre>{}</pre></details>",
        html_escape(&head),
        html_escape(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        Document {
            title: "Run <1>".into(),
            headline: vec!["a | b".into()],
            tables: vec![Table {
                title: "T".into(),
                header: vec!["x".into(), "y".into()],
                rows: vec![vec!["1".into(), "<script>".into()]],
                row_links: vec![Some("s-1".into())],
            }],
            sections: vec![Section {
                id: "s-1".into(),
                title: "Examples <b>".into(),
                examples: vec![Example {
                    summary: "item <i>".into(),
                    fields: vec![("answer".into(), format!("<script>{}", "x".repeat(500)))],
                }],
                more: Some("12 more".into()),
            }],
            lists: vec![
                ("Notes".into(), vec!["n & m".into()]),
                ("Empty".into(), vec![]),
            ],
        }
    }

    #[test]
    fn issue_10_markdown_escapes_cells_for_the_terminal_not_for_html() {
        let md = sample().to_markdown();
        assert!(md.starts_with("# Run <1>\n"), "{md}");
        assert!(md.contains("- a \\| b"), "{md}");
        assert!(
            md.contains("| x | y |\n|---|---|\n| 1 | <script> |"),
            "{md}"
        );
        assert!(!md.contains("&lt;") && !md.contains("&gt;"), "{md}");
        assert!(md.contains("## Notes\n\n- n & m"), "{md}");
        assert!(!md.contains("Empty"), "{md}");
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let html = sample().to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<td>&lt;script&gt;</td>"), "{html}");
        assert!(html.contains("<li>n &amp; m</li>"), "{html}");
        assert!(!html.contains("http"), "no external assets: {html}");
    }

    #[test]
    fn issue_15_tables_link_to_example_sections_that_clip_long_texts() {
        let html = sample().to_html();
        assert!(html.contains("<td><a href=\"#s-1\">1</a></td>"), "{html}");
        assert!(html.contains("<section id=\"s-1\">"), "{html}");
        assert!(html.contains("<h2>Examples &lt;b&gt;</h2>"), "{html}");
        assert!(html.contains("<summary>item &lt;i&gt;</summary>"), "{html}");
        assert!(html.contains("show all (508 characters)"), "{html}");
        assert!(html.contains("<p>12 more</p>"), "{html}");
        // Sections are for the page; the terminal report does not print them.
        assert!(!sample().to_markdown().contains("Examples"));
    }

    #[test]
    fn anchors_are_url_safe_and_distinct() {
        let a = anchor("fail", "Privacy / PII <x>");
        assert!(a.starts_with("fail-privacy---pii--x--"), "{a}");
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{a}"
        );
        assert_ne!(anchor("fail", "a b"), anchor("fail", "a-b"));
        assert_eq!(anchor("fail", "隐私"), anchor("fail", "隐私"));
    }
}
