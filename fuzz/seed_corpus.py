#!/usr/bin/env python3
"""Write the seed corpora under fuzz/corpus/<target>/ that are built from text.

The media seeds (png, jpeg, webp, wav, mp3, mp4) were made once with ffmpeg (8x8 test pattern,
0.1 s sine) and are committed as files; this script makes the rest and is safe to re-run.
"""
import io, json, os, struct, zipfile, zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
LABEL = '{"Label":"1","ContentProducer":"001191110108MA01KP2T5U00000","ProduceID":"seed","ReservedCode1":"","ContentPropagator":"","PropagateID":"","ReservedCode2":""}'


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def packet(body):
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            f'<rdf:RDF xmlns:rdf="{RDF}">{body}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


XMPS = {
    "element": packet(f'<rdf:Description rdf:about="" xmlns:TC260="{NS}"><TC260:AIGC>{esc(LABEL)}</TC260:AIGC></rdf:Description>'),
    "attribute": packet(f'<rdf:Description rdf:about="" xmlns:a="{NS}" a:AIGC="{esc(LABEL)}"/>'),
    "alt": packet(f'<rdf:Description xmlns:t="{NS}"><t:AIGC><rdf:Alt><rdf:li xml:lang="x-default">v</rdf:li></rdf:Alt></t:AIGC></rdf:Description>'),
    "fakes": packet(f'<!-- <TC260:AIGC>c</TC260:AIGC> --><?pi x?><rdf:Description xmlns:TC260="{NS}" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><![CDATA[<TC260:AIGC>d</TC260:AIGC>]]></dc:title><TC260:AIGC/></rdf:Description>'),
    "none": packet('<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Ann</dc:creator></rdf:Description>'),
}
for name, text in XMPS.items():
    put("xmp", name + ".xml", text)

# PNG with an XMP iTXt chunk (the hostile packet) inserted after IHDR.
def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

png = open(os.path.join(ROOT, "png", "plain.png"), "rb").read()
ihdr_end = 8 + 25
xmp = png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + XMPS["fakes"].encode())
tex = png_chunk(b"tEXt", b"AIGC\0" + LABEL.encode())
put("png", "xmp.png", png[:ihdr_end] + xmp + tex + png[ihdr_end:])

# JPEG with an XMP APP1 after SOI.
jpg = open(os.path.join(ROOT, "jpeg", "plain.jpg"), "rb").read()
payload = b"http://ns.adobe.com/xap/1.0/\0" + XMPS["attribute"].encode()
put("jpeg", "xmp.jpg", jpg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpg[2:])

# OOXML: a minimal docx, with and without a custom-properties part.
TYPES = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>{}</Types>'
RELS = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>{}</Relationships>'
DOC = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hi</w:t></w:r></w:p></w:body></w:document>'
CUSTOM = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
          '<!-- <property name="AIGC"/> --><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="AIGC"><vt:lpwstr>' + esc(LABEL) + '</vt:lpwstr></property>'
          '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="3" name="Client"><vt:lpwstr>A &amp; B</vt:lpwstr></property></Properties>')

def docx(custom):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        extra_t = '<Override PartName="/docProps/custom.xml" ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>' if custom else ""
        extra_r = '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/>' if custom else ""
        for name, text in [("[Content_Types].xml", TYPES.format(extra_t)), ("_rels/.rels", RELS.format(extra_r)), ("word/document.xml", DOC)]:
            z.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), text, zipfile.ZIP_DEFLATED)
        if custom:
            z.writestr(zipfile.ZipInfo("docProps/custom.xml", (2024, 1, 1, 0, 0, 0)), custom, zipfile.ZIP_DEFLATED)
    return buf.getvalue()

put("ooxml", "plain.docx", docx(None))
put("ooxml", "custom.docx", docx(CUSTOM))

# PDF: a one-page document with a classic xref table, with and without an AIGC Info entry.
def pdf(info):
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>", info]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out

put("pdf", "plain.pdf", pdf(b"<< /Producer (seed) >>"))
put("pdf", "label.pdf", pdf(b"<< /Producer (seed) /AIGC (" + LABEL.encode().replace(b"(", b"\\(").replace(b")", b"\\)") + b") >>"))

put("markdown", "plain.md", "# Title\n\nBody text.\n")
put("markdown", "front.md", f"---\ntitle: x\nAIGC: '{LABEL}'\n---\n\n# Title\n")
put("markdown", "crlf.md", "---\r\ntitle: x\r\n---\r\nBody\r\n")

# GGUF: version 3 headers with string, scalar and array metadata.
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b

def gguf(kvs, tensors=0):
    out = b"GGUF" + struct.pack("<IQQ", 3, tensors, len(kvs))
    for key, kind, value in kvs:
        out += gstr(key) + struct.pack("<I", kind) + value
    return out

put("gguf", "strings.gguf", gguf([("general.architecture", 8, gstr("llama")), ("tokenizer.chat_template", 8, gstr("{{ messages }}"))]))
put("gguf", "scalars.gguf", gguf([("a.u32", 4, struct.pack("<I", 7)), ("a.f32", 6, struct.pack("<f", 0.5)), ("a.bool", 7, b"\1"), ("a.i64", 11, struct.pack("<q", -3))]))
put("gguf", "arrays.gguf", gguf([("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + b"\0" * 12), ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 2) + gstr("a") + gstr("bc"))]))

ITEM = {"id": "q1", "messages": [{"role": "user", "content": "hi"}], "language": "en", "expected": "refuse", "risks": ["A.1.8"]}
MC = {"id": "q2", "messages": [{"role": "user", "content": "A or B?"}], "options": ["A", "B"], "answer": 1, "language": "zh", "expected": "choose"}
put("user_suite", "items.jsonl", json.dumps(ITEM) + "\n")
put("user_suite", "header.jsonl", json.dumps({"suite": {"name": "mine", "scorer": "multiple-choice", "licence": "CC0-1.0"}}) + "\n" + json.dumps(MC) + "\n")

LINE = json.dumps({"key": "k1", "target": "t", "body": json.dumps({"text": "answer", "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": 1})})
put("journal", "complete.jsonl", LINE + "\n" + LINE.replace("k1", "k2") + "\n")
put("journal", "torn.jsonl", LINE + "\n" + LINE[:20])

# WebP: the lossless seed made extended, with the attribute-form XMP packet.
def riff_chunk(fourcc, data):
    return fourcc + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

webp = open(os.path.join(ROOT, "webp", "lossless.webp"), "rb").read()
vp8x = riff_chunk(b"VP8X", bytes([0x04, 0, 0, 0]) + (7).to_bytes(3, "little") + (7).to_bytes(3, "little"))
body = b"WEBP" + vp8x + webp[12:] + riff_chunk(b"XMP ", XMPS["attribute"].encode())
put("webp", "xmp.webp", b"RIFF" + struct.pack("<I", len(body)) + body)

# WAV with an AIGC chunk after the data.
wav = open(os.path.join(ROOT, "wav", "plain.wav"), "rb").read()
body = wav[8:] + riff_chunk(b"AIGC", LABEL.encode())
put("wav", "label.wav", b"RIFF" + struct.pack("<I", len(body)) + body)
