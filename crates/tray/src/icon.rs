//! The tray icon: a StatusNotifierItem on the session bus (through `ksni`, no GTK), with the
//! number of waiting requests in its tooltip and as a badge, and a menu (open, quit).

use std::sync::LazyLock;

use tokio::sync::mpsc;

use crate::settings::Language;
use crate::text;

/// What the tray asks of the resident process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// The icon was clicked, or "open" chosen: the one waiting request, the list, or the window.
    Open,
    Quit,
}

pub struct TrayIcon {
    pub lang: Language,
    pub pending: usize,
    pub actions: mpsc::UnboundedSender<TrayAction>,
}

/// The app's icon (icons/32x32.png) as the ARGB32 the protocol carries.
static ICON: LazyLock<ksni::Icon> = LazyLock::new(|| {
    let img = image::load_from_memory_with_format(include_bytes!("../../../icons/32x32.png"), image::ImageFormat::Png)
        .expect("the app icon is a PNG")
        .into_rgba8();
    let (width, height) = img.dimensions();
    let mut data = img.into_vec();
    for pixel in data.chunks_exact_mut(4) {
        pixel.rotate_right(1); // RGBA -> ARGB
    }
    ksni::Icon { width: width as i32, height: height as i32, data }
});

/// The icon with a vermilion dot in its top right corner: something waits.
static ICON_WAITING: LazyLock<ksni::Icon> = LazyLock::new(|| {
    let mut icon = ICON.clone();
    let (w, h) = (icon.width, icon.height);
    let r = w / 4;
    let (cx, cy) = (w - r - 1, r + 1);
    for y in 0..h {
        for x in 0..w {
            if (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r {
                let at = ((y * w + x) * 4) as usize;
                icon.data[at..at + 4].copy_from_slice(&[0xff, 0xb3, 0x26, 0x1e]);
            }
        }
    }
    icon
});

impl ksni::Tray for TrayIcon {
    fn id(&self) -> String {
        "inkan".into()
    }

    fn title(&self) -> String {
        "Inkan 印鑑".into()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::Communications
    }

    fn status(&self) -> ksni::Status {
        if self.pending > 0 { ksni::Status::NeedsAttention } else { ksni::Status::Active }
    }

    fn icon_pixmap(&self) -> Vec<ksni::Icon> {
        vec![if self.pending > 0 { ICON_WAITING.clone() } else { ICON.clone() }]
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip { title: text::pending_count(self.pending, self.lang), ..Default::default() }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        let _ = self.actions.send(TrayAction::Open);
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        use ksni::menu::StandardItem;
        vec![
            StandardItem {
                label: text::menu_open(self.lang).into(),
                activate: Box::new(|t: &mut Self| {
                    let _ = t.actions.send(TrayAction::Open);
                }),
                ..Default::default()
            }
            .into(),
            StandardItem {
                label: text::menu_quit(self.lang).into(),
                activate: Box::new(|t: &mut Self| {
                    let _ = t.actions.send(TrayAction::Quit);
                }),
                ..Default::default()
            }
            .into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_icon_and_its_badge() {
        let (plain, waiting) = (&*super::ICON, &*super::ICON_WAITING);
        assert_eq!(plain.data.len(), (plain.width * plain.height * 4) as usize);
        assert_ne!(plain.data, waiting.data, "the badge changes the picture");
        assert_eq!((plain.width, plain.height), (waiting.width, waiting.height));
    }
}
