//! Enrollment QR codes: PNG and SVG for pages and the API, Unicode blocks for a terminal.

use image::Luma;
use qrcode::QrCode;
use qrcode::render::{svg, unicode};

/// Pixels of the smallest side of a rendered QR image.
pub const QR_MIN_PIXELS: u32 = 256;

pub fn png(text: &str) -> anyhow::Result<Vec<u8>> {
    let code = QrCode::new(text.as_bytes())?;
    let image = code.render::<Luma<u8>>().min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS).build();
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(image).write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

pub fn svg(text: &str) -> anyhow::Result<String> {
    let code = QrCode::new(text.as_bytes())?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS).build())
}

/// Two QR modules per character cell, for printing in a terminal.
pub fn terminal(text: &str) -> anyhow::Result<String> {
    let code = QrCode::new(text.as_bytes())?;
    Ok(code
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .build())
}
