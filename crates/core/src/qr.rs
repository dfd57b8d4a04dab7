//! Reading an enrollment QR code from an image (PNG or JPEG).

use crate::error::{CoreError, CoreResult};

/// Largest image file accepted, in bytes.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

/// The text of the first QR code found in the image.
pub fn decode_qr(image_bytes: &[u8]) -> CoreResult<String> {
    if image_bytes.len() > MAX_IMAGE_BYTES {
        return Err(CoreError::ImageUnreadable);
    }
    let image = image::load_from_memory(image_bytes).map_err(|_| CoreError::ImageUnreadable)?.to_luma8();
    let (w, h) = image.dimensions();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
        image.get_pixel(x as u32, y as u32).0[0]
    });
    let grids = prepared.detect_grids();
    let grid = grids.first().ok_or(CoreError::QrNotFound)?;
    let (_, text) = grid.decode().map_err(|_| CoreError::QrUnreadable)?;
    Ok(text)
}
