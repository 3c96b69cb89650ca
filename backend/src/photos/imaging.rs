//! What the server does with a photo's bytes: decides its type by its magic
//! bytes (never by a name or a Content-Type), decodes it fully under limits
//! that stop decompression bombs, and makes the square version that is served.
//!
//! Everything here is CPU-bound and blocking: callers run it in
//! `spawn_blocking`, a few at a time (see [`super::jobs::PhotoJobs`]).

use std::io::Cursor;

use image::{
    codecs::{jpeg::JpegEncoder, png::PngEncoder},
    imageops::FilterType,
    DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
};

/// Largest upload accepted: 5 MiB.
pub const MAX_PHOTO_BYTES: u64 = 5 * 1024 * 1024;
/// Largest width and height decoded.
pub const MAX_DIMENSION: u32 = 12_000;
/// Most memory one decode may take (the decoded pixels and the decoder's own
/// buffers): 8192x8192 RGBA, or any JPEG photo of a phone or a camera.
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Width and height of the served photo.
pub const PHOTO_SIZE: u32 = 400;
/// Quality of the served JPEG.
const JPEG_QUALITY: u8 = 85;

/// The types kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Gif,
    WebP,
}

impl PhotoFormat {
    /// As stored and answered: `jpeg`, `png`, `gif`, `webp`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::WebP => "webp",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::Gif => ImageFormat::Gif,
            Self::WebP => ImageFormat::WebP,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Not one of the kept types, or not an image at all.
    #[error("{0}")]
    Unsupported(String),
    /// Claims to be a kept type but does not decode: truncated or corrupt.
    #[error("{0}")]
    Invalid(String),
    /// Decoding it would exceed the dimension or memory limits.
    #[error("{0}")]
    TooLarge(String),
    /// Making the served version failed (not the upload's fault).
    #[error("encoding the resized photo")]
    Encode(#[source] ImageError),
}

/// An upload that decoded completely.
#[derive(Debug, Clone, Copy)]
pub struct Inspected {
    pub format: PhotoFormat,
    /// As displayed (after the EXIF orientation is applied).
    pub width: u32,
    pub height: u32,
}

/// The served version.
#[derive(Debug)]
pub struct Resized {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// The type of `bytes` by their magic bytes.
pub fn sniff(bytes: &[u8]) -> Result<PhotoFormat, PhotoError> {
    const KEPT: &str = "upload a JPEG, PNG, GIF or WebP image";
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => Ok(PhotoFormat::Jpeg),
        Ok(ImageFormat::Png) => Ok(PhotoFormat::Png),
        Ok(ImageFormat::Gif) => Ok(PhotoFormat::Gif),
        Ok(ImageFormat::WebP) => Ok(PhotoFormat::WebP),
        Ok(other) => Err(PhotoError::Unsupported(format!(
            "{} images are not accepted: {KEPT}",
            other.extensions_str().first().unwrap_or(&"such").to_uppercase()
        ))),
        Err(_) if looks_like_svg(bytes) => Err(PhotoError::Unsupported(format!("SVG images are not accepted: {KEPT}"))),
        Err(_) if bytes.is_empty() => Err(PhotoError::Unsupported(format!("the upload is empty: {KEPT}"))),
        Err(_) => Err(PhotoError::Unsupported(format!("the file is not an image: {KEPT}"))),
    }
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    head.contains("<svg")
}

/// Decodes the whole image, so that a truncated or corrupt one is refused
/// now rather than found out later.
pub fn inspect(bytes: &[u8]) -> Result<Inspected, PhotoError> {
    let (format, image) = decode(bytes)?;
    Ok(Inspected {
        format,
        width: image.width(),
        height: image.height(),
    })
}

/// The served version: scaled to cover [`PHOTO_SIZE`] square and cropped
/// around the centre; a JPEG, or a PNG when some pixel is transparent.
/// Re-encoding also drops every piece of metadata (EXIF, GPS) of the original.
pub fn resize(bytes: &[u8]) -> Result<Resized, PhotoError> {
    let (_, image) = decode(bytes)?;
    let square = image.resize_to_fill(PHOTO_SIZE, PHOTO_SIZE, FilterType::Lanczos3);
    let mut out = Vec::new();
    let transparent = square.color().has_alpha() && square.to_rgba8().pixels().any(|p| p.0[3] < u8::MAX);
    if transparent {
        square
            .to_rgba8()
            .write_with_encoder(PngEncoder::new(&mut out))
            .map_err(PhotoError::Encode)?;
        Ok(Resized {
            bytes: out,
            content_type: "image/png",
        })
    } else {
        square
            .to_rgb8()
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY))
            .map_err(PhotoError::Encode)?;
        Ok(Resized {
            bytes: out,
            content_type: "image/jpeg",
        })
    }
}

/// Decodes under the limits; applies the EXIF orientation.
fn decode(bytes: &[u8]) -> Result<(PhotoFormat, DynamicImage), PhotoError> {
    let format = sniff(bytes)?;
    // Decoders stop reading once they have the pixels, and the JPEG one even
    // fills a cut-off scan with grey: the end of the file is checked here.
    let complete = match format {
        PhotoFormat::Jpeg => jpeg_is_complete(bytes),
        PhotoFormat::Png => png_is_complete(bytes),
        PhotoFormat::Gif => gif_is_complete(bytes),
        PhotoFormat::WebP => webp_is_complete(bytes),
    };
    if !complete {
        return Err(PhotoError::Invalid(format!(
            "the {} image is truncated or corrupt (it does not end where its data says)",
            format.name().to_uppercase()
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| classify(format, e))?;
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(too_large());
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| classify(format, e))?;
    image.apply_orientation(orientation);
    Ok((format, image))
}

fn too_large() -> PhotoError {
    PhotoError::TooLarge(format!(
        "the image is too large to decode: at most {MAX_DIMENSION}x{MAX_DIMENSION} pixels and {} MiB of pixels",
        MAX_DECODE_BYTES / (1024 * 1024)
    ))
}

fn classify(format: PhotoFormat, err: ImageError) -> PhotoError {
    match err {
        ImageError::Limits(_) => too_large(),
        ImageError::Unsupported(e) => PhotoError::Unsupported(format!(
            "this {} image uses a feature that is not supported: {e}",
            format.name().to_uppercase()
        )),
        other => PhotoError::Invalid(format!(
            "the {} image is truncated or corrupt: {other}",
            format.name().to_uppercase()
        )),
    }
}

/// Whether a PNG file's chunks run complete up to its IEND chunk.
fn png_is_complete(bytes: &[u8]) -> bool {
    let mut i = 8;
    while let Some(header) = bytes.get(i..i + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        i = match i.checked_add(12).and_then(|i| i.checked_add(len)) {
            Some(next) if next <= bytes.len() => next,
            _ => return false,
        };
        if &header[4..8] == b"IEND" {
            return true;
        }
    }
    false
}

/// Whether a GIF file's blocks run complete up to its trailer.
fn gif_is_complete(bytes: &[u8]) -> bool {
    fn color_table(flags: u8) -> usize {
        if flags & 0x80 == 0 {
            0
        } else {
            3 << ((flags & 0x07) + 1)
        }
    }
    /// The position after a chain of data sub-blocks starting at `i`.
    fn sub_blocks(bytes: &[u8], mut i: usize) -> Option<usize> {
        loop {
            let len = usize::from(*bytes.get(i)?);
            i += 1;
            if len == 0 {
                return Some(i);
            }
            i += len;
        }
    }
    // Header and logical screen descriptor, then the global colour table.
    let Some(&flags) = bytes.get(10) else {
        return false;
    };
    let mut i = 13 + color_table(flags);
    loop {
        let next = match bytes.get(i) {
            Some(0x3B) => return true,
            // Extension: introducer, label, data.
            Some(0x21) => sub_blocks(bytes, i + 2),
            // Image: descriptor, local colour table, LZW code size, data.
            Some(0x2C) => bytes
                .get(i + 9)
                .and_then(|&flags| sub_blocks(bytes, i + 10 + color_table(flags) + 1)),
            _ => None,
        };
        match next {
            Some(next) => i = next,
            None => return false,
        }
    }
}

/// Whether a WebP file is as long as its RIFF header says.
fn webp_is_complete(bytes: &[u8]) -> bool {
    bytes
        .get(4..8)
        .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .is_some_and(|riff| bytes.len() as u64 >= riff + 8)
}

/// Whether a JPEG stream runs complete from its start to its end-of-image
/// marker: walks the segments, skipping the entropy-coded data after each
/// start-of-scan. Bytes after the end marker (some phones append a video
/// there) are allowed.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut i = 2;
    loop {
        // The next marker; stray bytes before it are tolerated, as by libjpeg.
        let Some(offset) = bytes[i..].iter().position(|&b| b == 0xFF) else {
            return false;
        };
        i += offset;
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else {
            return false;
        };
        i += 1;
        match marker {
            0xD9 => return true,
            // Markers without a length: TEM, restart markers; 0x00 is stuffing.
            0x00 | 0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = bytes
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return false;
        };
        if len < 2 || i + len > bytes.len() {
            return false;
        }
        i += len;
        if marker == 0xDA {
            // Entropy-coded data: 0xFF is followed by 0x00 (stuffing), a
            // restart marker or fill 0xFFs; anything else is the next marker.
            loop {
                let Some(offset) = bytes[i..].iter().position(|&b| b == 0xFF) else {
                    return false;
                };
                i += offset;
                match bytes.get(i + 1) {
                    None => return false,
                    Some(0x00 | 0xD0..=0xD7) => i += 2,
                    Some(0xFF) => i += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use image::{codecs::gif::GifEncoder, codecs::webp::WebPEncoder, Rgb, RgbImage, Rgba, RgbaImage};

    use super::*;

    fn picture(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        })
    }

    fn encode(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
        let image = picture(width, height);
        let mut out = Vec::new();
        match format {
            ImageFormat::Gif => {
                let rgba = DynamicImage::ImageRgb8(image).to_rgba8();
                GifEncoder::new(&mut out).encode_frame(image::Frame::new(rgba)).unwrap();
            }
            ImageFormat::WebP => {
                image.write_with_encoder(WebPEncoder::new_lossless(&mut out)).unwrap();
            }
            _ => image.write_to(&mut Cursor::new(&mut out), format).unwrap(),
        }
        out
    }

    #[test]
    fn every_kept_format_is_inspected_and_resized_to_a_square() {
        for (format, kept) in [
            (ImageFormat::Jpeg, PhotoFormat::Jpeg),
            (ImageFormat::Png, PhotoFormat::Png),
            (ImageFormat::Gif, PhotoFormat::Gif),
            (ImageFormat::WebP, PhotoFormat::WebP),
        ] {
            let bytes = encode(format, 500, 300);
            let inspected = inspect(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((inspected.format, inspected.width, inspected.height), (kept, 500, 300));
            let resized = resize(&bytes).unwrap();
            assert_eq!(resized.content_type, "image/jpeg", "{format:?} has no transparency");
            let out = image::load_from_memory(&resized.bytes).unwrap();
            assert_eq!((out.width(), out.height()), (PHOTO_SIZE, PHOTO_SIZE));
        }
    }

    #[test]
    fn a_truncated_image_of_any_kept_format_is_invalid() {
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP] {
            let bytes = encode(format, 300, 200);
            for cut in [bytes.len() / 2, bytes.len() - 2] {
                match inspect(&bytes[..cut]) {
                    Err(PhotoError::Invalid(_)) => {}
                    other => panic!("{format:?} cut at {cut} of {}: {other:?}", bytes.len()),
                }
            }
        }
    }

    #[test]
    fn transparency_is_kept_as_png() {
        let image = RgbaImage::from_fn(300, 500, |x, _| Rgba([255, 0, 0, if x < 150 { 0 } else { 255 }]));
        let mut bytes = Vec::new();
        image.write_with_encoder(PngEncoder::new(&mut bytes)).unwrap();
        let resized = resize(&bytes).unwrap();
        assert_eq!(resized.content_type, "image/png");
        let out = image::load_from_memory(&resized.bytes).unwrap();
        assert_eq!((out.width(), out.height()), (PHOTO_SIZE, PHOTO_SIZE));
        assert!(out.color().has_alpha());
    }

    #[test]
    fn other_types_are_unsupported() {
        let cases: [&[u8]; 5] = [
            b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"",
            b"hello",
        ];
        for bytes in cases {
            assert!(matches!(sniff(bytes), Err(PhotoError::Unsupported(_))), "{bytes:?}");
        }
        assert!(sniff(cases[1]).unwrap_err().to_string().starts_with("BMP"));
        assert!(sniff(cases[2]).unwrap_err().to_string().starts_with("SVG"));
    }

    #[test]
    fn bombs_are_refused_before_decoding() {
        // A PNG whose header claims more pixels than allowed.
        for (width, height) in [(MAX_DIMENSION + 1, 10), (MAX_DIMENSION, MAX_DIMENSION)] {
            let mut bytes = encode(ImageFormat::Png, 1, 1);
            bytes[16..20].copy_from_slice(&width.to_be_bytes());
            bytes[20..24].copy_from_slice(&height.to_be_bytes());
            let crc = crc32fast::hash(&bytes[12..29]);
            bytes[29..33].copy_from_slice(&crc.to_be_bytes());
            assert!(
                matches!(inspect(&bytes), Err(PhotoError::TooLarge(_))),
                "{width}x{height}: {:?}",
                inspect(&bytes)
            );
        }
    }

    #[test]
    fn every_cut_is_seen() {
        for (format, complete) in [
            (ImageFormat::Png, png_is_complete as fn(&[u8]) -> bool),
            (ImageFormat::Gif, gif_is_complete),
            (ImageFormat::WebP, webp_is_complete),
        ] {
            let bytes = encode(format, 40, 30);
            assert!(complete(&bytes), "{format:?}");
            for cut in 0..bytes.len() {
                assert!(!complete(&bytes[..cut]), "{format:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn jpeg_completeness() {
        let bytes = encode(ImageFormat::Jpeg, 64, 48);
        assert!(jpeg_is_complete(&bytes));
        let mut appended = bytes.clone();
        appended.extend_from_slice(b"trailing video");
        assert!(jpeg_is_complete(&appended));
        for cut in 0..bytes.len() - 1 {
            assert!(!jpeg_is_complete(&bytes[..cut]), "cut at {cut}");
        }
    }
}
