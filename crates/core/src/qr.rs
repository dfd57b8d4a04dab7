//! Reading an enrollment QR code from an image (PNG or JPEG).

use crate::error::{CoreError, CoreResult};

/// Largest image file accepted, in bytes.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;
/// Largest image side accepted, in pixels (a phone photo is about 4000).
pub const MAX_IMAGE_SIDE: u32 = 8192;
/// Most memory the decoder may allocate: a small file cannot claim gigabytes.
pub const MAX_DECODE_ALLOC: u64 = 256 * 1024 * 1024;

/// The text of the first QR code found in the image.
pub fn decode_qr(image_bytes: &[u8]) -> CoreResult<String> {
    if image_bytes.len() > MAX_IMAGE_BYTES {
        return Err(CoreError::ImageUnreadable);
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = image::ImageReader::new(std::io::Cursor::new(image_bytes))
        .with_guessed_format()
        .map_err(|_| CoreError::ImageUnreadable)?;
    reader.limits(limits);
    let image = reader.decode().map_err(|_| CoreError::ImageUnreadable)?.to_luma8();
    let (w, h) = image.dimensions();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
        image.get_pixel(x as u32, y as u32).0[0]
    });
    let grids = prepared.detect_grids();
    let grid = grids.first().ok_or(CoreError::QrNotFound)?;
    let (_, text) = grid.decode().map_err(|_| CoreError::QrUnreadable)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG header claiming 100000 x 100000 pixels: refused before any pixel is decoded.
    #[test]
    fn refuses_images_that_claim_huge_sizes() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]);
        png.extend(13u32.to_be_bytes());
        png.extend(&ihdr);
        png.extend([0, 0, 0, 0]);
        assert!(matches!(decode_qr(&png), Err(CoreError::ImageUnreadable)));
        assert!(matches!(decode_qr(&[]), Err(CoreError::ImageUnreadable)));
    }
}
