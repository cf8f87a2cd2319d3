//! Explicit labels for images (GB 45438-2025 5.2): a text label at an edge or corner, clearly
//! legible, whose text height is at least 5 % of the image's shortest side.
//!
//! The label is white text on a semi-opaque dark plate, so it stays legible on light and dark
//! backgrounds. The text is set in the bundled WenQuanYi Micro Hei subset (Apache-2.0; origin and
//! glyph list in `crates/mark/assets/README.md`); a character outside the subset is refused
//! rather than drawn as a missing-glyph box.
//!
//! **Text height** is measured on the rendered glyphs, not taken from the nominal font size: for
//! every reference glyph (CJK ideographs, ASCII capitals and digits) it is the number of pixel
//! rows from the first to the last row where that glyph covers at least half a pixel, and the
//! label's text height is the *smallest* such value, so every significant character meets the
//! 5 % rule. The font is scaled up until that measure reaches the requested fraction of the
//! shortest side, and never below [`MIN_LEGIBLE_TEXT_PX`].
//!
//! Drawing an explicit label necessarily re-encodes the pixels ([`label_file`]), unlike the
//! implicit metadata labels in [`crate::formats`], which copy every media byte unchanged. The
//! re-encoded file carries no metadata except the ICC profile, so write the implicit label
//! *after* the explicit one.

use std::io::Cursor;

use ab_glyph::{Font, FontRef, OutlinedGlyph, PxScale, ScaleFont, point};
use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::{PngDecoder, PngEncoder};
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat, Limits,
    RgbaImage,
};
use serde::{Deserialize, Serialize};

pub use super::validate_wording;
use crate::error::MarkError;

/// The bundled font: a WenQuanYi Micro Hei subset (Apache-2.0), see `assets/README.md`.
pub const FONT_BYTES: &[u8] = include_bytes!("../../assets/wqy-microhei-subset.ttf");

/// GB 45438 5.2: text height at least 5 % of the shortest side.
pub const MIN_HEIGHT_FRACTION: f32 = 0.05;

/// Text is never drawn shorter than this many pixels, whatever 5 % of the image gives: below it
/// CJK strokes merge and the label is not legible. An image too small to hold the label at this
/// size is refused.
pub const MIN_LEGIBLE_TEXT_PX: u32 = 12;

/// Opacity of the dark plate behind the text.
const PLATE_ALPHA: f32 = 0.7;

/// Coverage from which a pixel counts as ink when measuring the text height.
const INK_COVERAGE: f32 = 0.5;

/// Where the label goes: a corner, or centred on the top or bottom edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Position {
    TopLeft,
    TopRight,
    BottomLeft,
    #[default]
    BottomRight,
    Top,
    Bottom,
}

/// What to draw and where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageLabelOptions {
    /// The label text, one line; must satisfy [`validate_wording`]. Default "AI生成".
    pub text: String,
    /// Edge or corner. Default bottom right.
    pub position: Position,
    /// Rendered text height as a fraction of the shortest side; at least 0.05. Default 0.05.
    pub height_fraction: f32,
}

impl Default for ImageLabelOptions {
    fn default() -> Self {
        Self {
            text: "AI生成".into(),
            position: Position::default(),
            height_fraction: 0.05,
        }
    }
}

/// What was drawn: the plate rectangle (every changed pixel lies inside it) and the measured
/// text height.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Height of the shortest reference glyph as rendered, in pixels (see the module doc).
    pub text_height_px: u32,
    /// The image's shortest side, in pixels.
    pub shortest_side: u32,
}

impl LabelBox {
    /// Measured text height divided by the shortest side (GB 45438 requires at least 0.05).
    pub fn ratio(&self) -> f32 {
        if self.shortest_side == 0 {
            0.0
        } else {
            self.text_height_px as f32 / self.shortest_side as f32
        }
    }
}

/// Draw the label onto `image` and report where.
pub fn draw_label(
    image: &mut RgbaImage,
    options: &ImageLabelOptions,
) -> Result<LabelBox, MarkError> {
    check_options(options)?;
    let (width, height) = image.dimensions();
    let shortest = width.min(height);
    let wanted = f64::from(options.height_fraction) * f64::from(shortest);
    // The epsilon keeps 0.05 × 300 at 15 despite binary rounding.
    let target = ((wanted - 1e-6).ceil().max(0.0) as u32).max(MIN_LEGIBLE_TEXT_PX);
    let font = FontRef::try_from_slice(FONT_BYTES)
        .map_err(|e| MarkError::corrupt("font", format!("bundled label font: {e}")))?;
    let fit = Fit {
        width,
        height,
        shortest,
        target,
        text: &options.text,
    };

    // Start near one em per target pixel, then scale by the measured ratio until it fits.
    let mut scale = target as f32;
    let mut ink = None;
    for _ in 0..24 {
        let laid = layout(&font, &options.text, scale)?;
        fit.check(laid.width, laid.height)?;
        let raster = rasterise(&laid);
        if raster.text_height >= target {
            ink = Some(raster);
            break;
        }
        let measured = raster.text_height.max(1) as f32;
        scale = (scale * target as f32 / measured).max(scale + 0.25);
    }
    let Some(ink) = ink else {
        return Err(MarkError::InvalidLabel(format!(
            "could not render {:?} at {target} px text height",
            options.text
        )));
    };

    let pad = (target * 3).div_ceil(10).max(2);
    let margin = (shortest / 100).max(2);
    let plate_w = ink.width + 2 * pad;
    let plate_h = ink.height + 2 * pad;
    let (x, y) = fit.place(options.position, plate_w, plate_h, margin)?;

    for py in 0..plate_h {
        for px in 0..plate_w {
            let coverage = match (px.checked_sub(pad), py.checked_sub(pad)) {
                (Some(ix), Some(iy)) => ink.coverage_at(ix, iy),
                _ => 0.0,
            };
            if let Some(pixel) = image.get_pixel_mut_checked(x + px, y + py) {
                let plated = over(pixel.0, 0.0, PLATE_ALPHA);
                pixel.0 = over(plated, 1.0, coverage);
            }
        }
    }

    Ok(LabelBox {
        x,
        y,
        width: plate_w,
        height: plate_h,
        text_height_px: ink.text_height,
        shortest_side: shortest,
    })
}

/// Decode a PNG or JPEG, draw the label, and encode it again in the same format.
///
/// The pixels are re-encoded (JPEG at quality 92), so this is lossy for JPEG and drops all
/// metadata except the ICC profile; apply the implicit label afterwards with
/// [`crate::formats`]. An EXIF orientation is applied to the pixels first, so the label lands at
/// the chosen corner as the image is displayed. 16-bit PNGs are written as 8-bit.
pub fn label_file(
    input_bytes: &[u8],
    format: ImageFormat,
    options: &ImageLabelOptions,
) -> Result<(Vec<u8>, LabelBox), MarkError> {
    check_options(options)?;
    let (name, decoded) = match format {
        ImageFormat::Png => (
            "png",
            PngDecoder::new(Cursor::new(input_bytes)).map(|d| decode("png", d)),
        ),
        ImageFormat::Jpeg => (
            "jpeg",
            JpegDecoder::new(Cursor::new(input_bytes)).map(|d| decode("jpeg", d)),
        ),
        other => {
            return Err(MarkError::Unsupported(format!(
                "{other:?} explicit image labels; label_file handles PNG and JPEG"
            )));
        }
    };
    let (original, icc) = decoded.map_err(|e| image_error(name, e))??;

    let mut rgba = original.to_rgba8();
    let label = draw_label(&mut rgba, options)?;
    let (w, h) = rgba.dimensions();
    let drawn = DynamicImage::ImageRgba8(rgba);
    let color = original.color();

    let mut out = Vec::new();
    let result = if format == ImageFormat::Png {
        let mut encoder = PngEncoder::new(&mut out);
        if let Some(icc) = icc {
            // An encoder that cannot carry the profile still writes a valid image.
            let _ = encoder.set_icc_profile(icc);
        }
        match (color.has_alpha(), color.has_color()) {
            (true, true) => encoder.write_image(drawn.as_bytes(), w, h, ExtendedColorType::Rgba8),
            (true, false) => encoder.write_image(
                drawn.to_luma_alpha8().as_raw(),
                w,
                h,
                ExtendedColorType::La8,
            ),
            (false, true) => {
                encoder.write_image(drawn.to_rgb8().as_raw(), w, h, ExtendedColorType::Rgb8)
            }
            (false, false) => {
                encoder.write_image(drawn.to_luma8().as_raw(), w, h, ExtendedColorType::L8)
            }
        }
    } else {
        let mut encoder = JpegEncoder::new_with_quality(&mut out, 92);
        if let Some(icc) = icc {
            let _ = encoder.set_icc_profile(icc);
        }
        if color.has_color() {
            encoder.write_image(drawn.to_rgb8().as_raw(), w, h, ExtendedColorType::Rgb8)
        } else {
            encoder.write_image(drawn.to_luma8().as_raw(), w, h, ExtendedColorType::L8)
        }
    };
    result.map_err(|e| image_error(name, e))?;
    Ok((out, label))
}

/// Largest image [`label_file`] decodes, in pixels (64 Mi, e.g. 8192 × 8192). The header's
/// dimensions are checked before any pixel is decoded, so a small file declaring a huge canvas
/// fails at once instead of allocating gigabytes; labelling holds a few copies of the pixels.
pub const MAX_PIXELS: u64 = 64 << 20;

/// Most bytes the decoder may allocate: the RGBA pixels of a [`MAX_PIXELS`] image at 16 bits
/// per channel, plus slack for decoder buffers.
const MAX_DECODER_ALLOC: u64 = MAX_PIXELS * 8 + (64 << 20);

fn decode<D: ImageDecoder>(
    format: &'static str,
    mut decoder: D,
) -> Result<(DynamicImage, Option<Vec<u8>>), MarkError> {
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(MarkError::Unsupported(format!(
            "a {width}×{height} {format} image; Warden draws explicit labels on images up to              {MAX_PIXELS} pixels (e.g. 8192×8192). Scale the image down first"
        )));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    decoder
        .set_limits(limits)
        .map_err(|e| image_error(format, e))?;
    let icc = decoder.icc_profile().ok().flatten();
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(format, e))?;
    image.apply_orientation(orientation);
    Ok((image, icc))
}

fn image_error(format: &'static str, error: ImageError) -> MarkError {
    match error {
        ImageError::IoError(e) => MarkError::from_read(format, e),
        ImageError::Decoding(e) => MarkError::corrupt(format, e.to_string()),
        ImageError::Limits(e) => MarkError::Unsupported(format!("{format} image: {e}")),
        ImageError::Unsupported(e) => MarkError::Unsupported(format!("{format} image: {e}")),
        other => MarkError::corrupt(format, other.to_string()),
    }
}

fn check_options(options: &ImageLabelOptions) -> Result<(), MarkError> {
    let fraction = options.height_fraction;
    if !fraction.is_finite() || fraction < MIN_HEIGHT_FRACTION {
        return Err(MarkError::InvalidLabel(format!(
            "height_fraction {fraction} is below 0.05: GB 45438 5.2 requires the label text \
             height to be at least 5 % of the image's shortest side"
        )));
    }
    if fraction > 1.0 {
        return Err(MarkError::InvalidLabel(format!(
            "height_fraction {fraction} is above 1: the text cannot be taller than the image"
        )));
    }
    if options.text.chars().any(char::is_control) {
        return Err(MarkError::InvalidLabel(
            "an image label is one line of text without control characters".into(),
        ));
    }
    validate_wording(&options.text)
}

/// The image and the text being fitted, for error messages and placement.
struct Fit<'a> {
    width: u32,
    height: u32,
    shortest: u32,
    target: u32,
    text: &'a str,
}

impl Fit<'_> {
    fn too_small(&self, need_w: u32, need_h: u32) -> MarkError {
        MarkError::InvalidLabel(format!(
            "the {}×{} image is too small for a legible label: {:?} at {} px text height \
             (5 % of the shortest side {}, at least {MIN_LEGIBLE_TEXT_PX} px) needs about \
             {need_w}×{need_h} px; use a shorter label or a larger image",
            self.width, self.height, self.text, self.target, self.shortest
        ))
    }

    /// Refuse ink that cannot fit, before allocating a raster for it.
    fn check(&self, ink_w: u32, ink_h: u32) -> Result<(), MarkError> {
        if ink_w > self.width || ink_h > self.height {
            return Err(self.too_small(ink_w, ink_h));
        }
        Ok(())
    }

    fn place(
        &self,
        position: Position,
        w: u32,
        h: u32,
        margin: u32,
    ) -> Result<(u32, u32), MarkError> {
        let need_w = w + 2 * margin;
        let need_h = h + 2 * margin;
        if need_w > self.width || need_h > self.height {
            return Err(self.too_small(need_w, need_h));
        }
        let right = self.width - margin - w;
        let bottom = self.height - margin - h;
        let centre = (self.width - w) / 2;
        Ok(match position {
            Position::TopLeft => (margin, margin),
            Position::TopRight => (right, margin),
            Position::BottomLeft => (margin, bottom),
            Position::BottomRight => (right, bottom),
            Position::Top => (centre, margin),
            Position::Bottom => (centre, bottom),
        })
    }
}

/// Glyph outlines placed on one line, with the union of their pixel bounds.
struct Layout {
    glyphs: Vec<(OutlinedGlyph, bool)>,
    min_x: f32,
    min_y: f32,
    width: u32,
    height: u32,
}

fn layout(font: &FontRef<'_>, text: &str, scale: f32) -> Result<Layout, MarkError> {
    let scaled = font.as_scaled(PxScale::from(scale));
    let baseline = scaled.ascent().ceil();
    let mut caret = 0.0f32;
    let mut previous = None;
    let mut glyphs = Vec::new();
    for c in text.chars() {
        let id = font.glyph_id(c);
        if id.0 == 0 {
            return Err(MarkError::InvalidLabel(format!(
                "the bundled label font has no glyph for {c:?} (U+{:04X}); it covers ASCII and \
                 the characters listed in assets/README.md",
                u32::from(c)
            )));
        }
        if let Some(previous) = previous {
            caret += scaled.kern(previous, id);
        }
        let glyph = id.with_scale_and_position(scale, point(caret, baseline));
        caret += scaled.h_advance(id);
        previous = Some(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            glyphs.push((outlined, is_reference(c)));
        }
    }
    let mut bounds: Option<(f32, f32, f32, f32)> = None;
    for (g, _) in &glyphs {
        let b = g.px_bounds();
        bounds = Some(match bounds {
            None => (b.min.x, b.min.y, b.max.x, b.max.y),
            Some((x0, y0, x1, y1)) => (
                x0.min(b.min.x),
                y0.min(b.min.y),
                x1.max(b.max.x),
                y1.max(b.max.y),
            ),
        });
    }
    let Some((min_x, min_y, max_x, max_y)) = bounds else {
        return Err(MarkError::InvalidLabel(format!(
            "the label {text:?} has no visible characters"
        )));
    };
    // With no reference glyph every glyph counts, so the height is never vacuous.
    if !glyphs.iter().any(|(_, reference)| *reference) {
        for (_, reference) in &mut glyphs {
            *reference = true;
        }
    }
    Ok(Layout {
        glyphs,
        min_x,
        min_y,
        width: (max_x - min_x).ceil().max(1.0) as u32,
        height: (max_y - min_y).ceil().max(1.0) as u32,
    })
}

/// CJK ideographs, ASCII capitals and digits: the glyphs whose height is "the text height".
fn is_reference(c: char) -> bool {
    c.is_ascii_uppercase()
        || c.is_ascii_digit()
        || matches!(u32::from(c), 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF)
}

/// The rendered text as a coverage map (0 to 1), and its measured height.
struct Ink {
    width: u32,
    height: u32,
    coverage: Vec<f32>,
    text_height: u32,
}

impl Ink {
    fn coverage_at(&self, x: u32, y: u32) -> f32 {
        if x >= self.width || y >= self.height {
            return 0.0;
        }
        let index = y as usize * self.width as usize + x as usize;
        self.coverage.get(index).copied().unwrap_or(0.0)
    }
}

fn rasterise(laid: &Layout) -> Ink {
    let (width, height) = (laid.width, laid.height);
    let mut coverage = vec![0.0f32; width as usize * height as usize];
    let mut text_height = u32::MAX;
    for (glyph, reference) in &laid.glyphs {
        let b = glyph.px_bounds();
        let ox = (b.min.x - laid.min_x).max(0.0) as u32;
        let oy = (b.min.y - laid.min_y).max(0.0) as u32;
        let mut inked: Option<(u32, u32)> = None;
        glyph.draw(|x, y, c| {
            let (gx, gy) = (ox + x, oy + y);
            if gx < width && gy < height {
                let index = gy as usize * width as usize + gx as usize;
                if let Some(cell) = coverage.get_mut(index) {
                    *cell = (*cell + c).min(1.0);
                }
            }
            if c >= INK_COVERAGE {
                inked = Some(match inked {
                    None => (gy, gy),
                    Some((top, bottom)) => (top.min(gy), bottom.max(gy)),
                });
            }
        });
        if *reference {
            let rows = inked.map_or(0, |(top, bottom)| bottom - top + 1);
            text_height = text_height.min(rows);
        }
    }
    if text_height == u32::MAX {
        text_height = 0;
    }
    Ink {
        width,
        height,
        coverage,
        text_height,
    }
}

/// Composite a grey level `value` (0 black, 1 white) with opacity `alpha` over `dst`.
fn over(dst: [u8; 4], value: f32, alpha: f32) -> [u8; 4] {
    let sa = alpha.clamp(0.0, 1.0);
    if sa <= 0.0 {
        return dst;
    }
    let [r, g, b, a] = dst;
    let da = f32::from(a) / 255.0;
    let oa = sa + da * (1.0 - sa);
    if oa <= 0.0 {
        return dst;
    }
    let channel = |d: u8| {
        let out = (value * sa + f32::from(d) / 255.0 * da * (1.0 - sa)) / oa;
        (out * 255.0).round().clamp(0.0, 255.0) as u8
    };
    [
        channel(r),
        channel(g),
        channel(b),
        (oa * 255.0).round().clamp(0.0, 255.0) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    fn white_and_black() -> [(RgbaImage, [u8; 4]); 2] {
        [
            (
                RgbaImage::from_pixel(400, 300, Rgba([255, 255, 255, 255])),
                [255, 255, 255, 255],
            ),
            (
                RgbaImage::from_pixel(400, 300, Rgba([0, 0, 0, 255])),
                [0, 0, 0, 255],
            ),
        ]
    }

    /// Rows from the first to the last row holding a near-white text pixel, scanned inside the
    /// plate (whose own colour is dark grey on either background).
    fn measured_text_rows(image: &RgbaImage, b: &LabelBox) -> u32 {
        let mut rows: Option<(u32, u32)> = None;
        for y in b.y..b.y + b.height {
            for x in b.x..b.x + b.width {
                let p = image.get_pixel(x, y).0;
                // Coverage >= 0.5 over the plate gives at least ~166 on white, ~128 on black.
                if p[0] >= 128 {
                    rows = Some(match rows {
                        None => (y, y),
                        Some((t, bo)) => (t.min(y), bo.max(y)),
                    });
                }
            }
        }
        rows.map_or(0, |(t, bo)| bo - t + 1)
    }

    #[test]
    fn wording_validation() {
        assert!(validate_wording("AI生成").is_ok());
        assert!(validate_wording("人工智能合成").is_ok());
        assert!(validate_wording("AI").is_err());
        assert!(validate_wording("合成图片").is_err());
        let bad = ImageLabelOptions {
            text: "机器生成".into(),
            ..Default::default()
        };
        let mut img = RgbaImage::new(400, 300);
        assert!(matches!(
            draw_label(&mut img, &bad),
            Err(MarkError::InvalidLabel(_))
        ));
    }

    #[test]
    fn draws_only_inside_box_on_white_and_black() {
        for position in [
            Position::TopLeft,
            Position::TopRight,
            Position::BottomLeft,
            Position::BottomRight,
            Position::Top,
            Position::Bottom,
        ] {
            for (mut img, background) in white_and_black() {
                let options = ImageLabelOptions {
                    position,
                    ..Default::default()
                };
                let b = draw_label(&mut img, &options).unwrap();
                assert_eq!(b.shortest_side, 300);
                assert!(b.x + b.width <= 400 && b.y + b.height <= 300, "{b:?}");
                let mut changed = 0;
                for (x, y, p) in img.enumerate_pixels() {
                    let inside = x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
                    if inside {
                        changed += usize::from(p.0 != background);
                    } else {
                        assert_eq!(p.0, background, "pixel ({x},{y}) outside {b:?}");
                    }
                }
                assert!(changed > 0);
                // The plate is dark on a white image, and the text is light on a black one.
                let corner = img.get_pixel(b.x, b.y).0;
                assert!(corner[0] < 100, "{corner:?}");
                assert!(measured_text_rows(&img, &b) > 0);
                // Corners and edges.
                match position {
                    Position::TopLeft | Position::TopRight | Position::Top => assert!(b.y < 10),
                    _ => assert!(b.y + b.height > 290),
                }
            }
        }
    }

    #[test]
    fn text_height_at_least_five_percent() {
        for (mut img, _) in white_and_black() {
            let b = draw_label(&mut img, &ImageLabelOptions::default()).unwrap();
            assert!(b.text_height_px >= 15, "{b:?}");
            assert!(b.ratio() >= 0.05);
            let rows = measured_text_rows(&img, &b);
            assert!(rows >= 15, "measured {rows} rows in {b:?}");
            // Not wildly oversized either.
            assert!(b.text_height_px <= 18, "{b:?}");
        }
        // A larger fraction gives proportionally taller text.
        let mut img = RgbaImage::from_pixel(400, 300, Rgba([255, 255, 255, 255]));
        let options = ImageLabelOptions {
            height_fraction: 0.1,
            ..Default::default()
        };
        let b = draw_label(&mut img, &options).unwrap();
        assert!(
            measured_text_rows(&img, &b) >= 30 && b.text_height_px >= 30,
            "{b:?}"
        );
    }

    #[test]
    fn refuses_small_fraction() {
        let mut img = RgbaImage::new(400, 300);
        for fraction in [0.03, 0.0, -1.0, f32::NAN, 1.5] {
            let options = ImageLabelOptions {
                height_fraction: fraction,
                ..Default::default()
            };
            let err = draw_label(&mut img, &options).unwrap_err();
            assert!(matches!(err, MarkError::InvalidLabel(_)), "{err}");
        }
        let options = ImageLabelOptions {
            height_fraction: 0.03,
            ..Default::default()
        };
        assert!(
            draw_label(&mut img, &options)
                .unwrap_err()
                .to_string()
                .contains("5 %")
        );
    }

    #[test]
    fn refuses_tiny_image() {
        let mut img = RgbaImage::new(20, 10);
        let err = draw_label(&mut img, &ImageLabelOptions::default()).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
        assert!(img.pixels().all(|p| p.0 == [0, 0, 0, 0]));
        // A long label on a narrow image.
        let mut img = RgbaImage::new(120, 800);
        let options = ImageLabelOptions {
            text: "本内容由人工智能生成合成".into(),
            ..Default::default()
        };
        assert!(
            draw_label(&mut img, &options)
                .unwrap_err()
                .to_string()
                .contains("too small")
        );
    }

    #[test]
    fn refuses_missing_glyph_and_control() {
        let mut img = RgbaImage::new(400, 300);
        let options = ImageLabelOptions {
            text: "AI生成😀".into(),
            ..Default::default()
        };
        assert!(
            draw_label(&mut img, &options)
                .unwrap_err()
                .to_string()
                .contains("no glyph")
        );
        let options = ImageLabelOptions {
            text: "AI\n生成".into(),
            ..Default::default()
        };
        assert!(draw_label(&mut img, &options).is_err());
    }

    #[test]
    fn font_covers_required_glyphs() {
        let font = FontRef::try_from_slice(FONT_BYTES).unwrap();
        for c in "AI生成合成人工智能由為为"
            .chars()
            .chain((0x20u8..0x7f).map(char::from))
        {
            assert_ne!(font.glyph_id(c).0, 0, "{c:?}");
        }
        assert!(FONT_BYTES.len() < 200_000);
    }

    #[test]
    fn latin_and_mixed_labels() {
        let mut img = RgbaImage::from_pixel(800, 600, Rgba([200, 30, 30, 255]));
        let options = ImageLabelOptions {
            text: "由人工智能生成 (AI)".into(),
            position: Position::Bottom,
            height_fraction: 0.06,
        };
        let b = draw_label(&mut img, &options).unwrap();
        assert!(b.text_height_px >= 36, "{b:?}");
    }

    #[test]
    fn label_file_png_round_trip() {
        let source = image::RgbImage::from_fn(400, 300, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(source.clone())
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let options = ImageLabelOptions {
            position: Position::TopLeft,
            ..Default::default()
        };
        let (out, b) = label_file(&png, ImageFormat::Png, &options).unwrap();
        let decoded = image::load_from_memory_with_format(&out, ImageFormat::Png).unwrap();
        assert_eq!(decoded.color(), image::ColorType::Rgb8);
        let decoded = decoded.to_rgb8();
        assert_eq!(decoded.dimensions(), (400, 300));
        for (x, y, p) in decoded.enumerate_pixels() {
            let inside = x >= b.x && x < b.x + b.width && y >= b.y && y < b.y + b.height;
            if !inside {
                assert_eq!(p, source.get_pixel(x, y));
            }
        }
        assert_ne!(decoded.get_pixel(b.x, b.y), source.get_pixel(b.x, b.y));
        assert!(b.text_height_px >= 15);
    }

    #[test]
    fn label_file_jpeg_and_errors() {
        let source = image::RgbImage::from_pixel(320, 240, image::Rgb([240, 240, 240]));
        let mut jpeg = Vec::new();
        DynamicImage::ImageRgb8(source)
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        let (out, b) = label_file(&jpeg, ImageFormat::Jpeg, &ImageLabelOptions::default()).unwrap();
        let decoded = image::load_from_memory_with_format(&out, ImageFormat::Jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 240));
        assert!(b.text_height_px >= 12);

        assert!(label_file(&jpeg, ImageFormat::Gif, &ImageLabelOptions::default()).is_err());
        // The JPEG decoder fills a truncated scan with grey, so cut inside the headers.
        let truncated = jpeg.get(..40).unwrap();
        assert!(label_file(truncated, ImageFormat::Jpeg, &ImageLabelOptions::default()).is_err());
        assert!(
            label_file(
                b"not a png",
                ImageFormat::Png,
                &ImageLabelOptions::default()
            )
            .is_err()
        );
    }

    #[test]
    fn issue_10_a_small_png_declaring_60000_squared_fails_fast() {
        // A valid PNG header declaring 60000×60000 RGBA (14 GB of pixels) with one tiny IDAT.
        fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let mut hasher = crc32fast::Hasher::new();
            hasher.update(kind);
            hasher.update(data);
            out.extend_from_slice(&hasher.finalize().to_be_bytes());
            out
        }
        let mut ihdr = 60000u32.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&60000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        let png = [
            b"\x89PNG\r\n\x1a\n".to_vec(),
            chunk(b"IHDR", &ihdr),
            chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
            chunk(b"IEND", &[]),
        ]
        .concat();
        assert!(png.len() < 100);
        let started = std::time::Instant::now();
        let error = label_file(&png, ImageFormat::Png, &ImageLabelOptions::default()).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let message = error.to_string();
        assert!(message.contains("60000×60000"), "{message}");
        assert!(message.contains("Scale the image down"), "{message}");
    }
}
