//! Enrollment QR codes: PNG and SVG for pages and the API, Unicode blocks for a terminal.

use image::Luma;
use qrcode::QrCode;
use qrcode::render::{svg, unicode};

/// Pixels of the smallest side of a rendered QR image.
pub const QR_MIN_PIXELS: u32 = 256;

pub fn png(text: &str) -> anyhow::Result<Vec<u8>> {
    png_of(&QrCode::new(text.as_bytes())?)
}

pub fn svg(text: &str) -> anyhow::Result<String> {
    Ok(svg_of(&QrCode::new(text.as_bytes())?))
}

/// Both images of one code: the code (its mask chosen by scoring all eight, the costly part)
/// is built once.
pub fn svg_and_png(text: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let code = QrCode::new(text.as_bytes())?;
    Ok((svg_of(&code), png_of(&code)?))
}

fn png_of(code: &QrCode) -> anyhow::Result<Vec<u8>> {
    let image = code.render::<Luma<u8>>().min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS).build();
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(image).write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

fn svg_of(code: &QrCode) -> String {
    code.render::<svg::Color<'_>>().min_dimensions(QR_MIN_PIXELS, QR_MIN_PIXELS).build()
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

#[cfg(test)]
mod tests {
    #[test]
    fn both_images_are_the_ones_made_apart() {
        let text = "inkan://enroll?v=1&example";
        let (svg, png) = super::svg_and_png(text).unwrap();
        assert_eq!(svg, super::svg(text).unwrap());
        assert_eq!(png, super::png(text).unwrap());
    }
}
