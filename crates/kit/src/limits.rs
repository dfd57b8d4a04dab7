//! Limits by name: the defaults, then a configuration file's `[limits]` table (TOML, unknown
//! names refused), then one environment variable per limit, `<PREFIX><NAME>` (a number or
//! `true`/`false`; unknown names refused, so a misspelt override cannot go unnoticed).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Loads a limits struct `T` (serde, `#[serde(default, deny_unknown_fields)]`).
pub fn load<T: Serialize + DeserializeOwned + Default>(
    file: Option<&str>,
    env_prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<T> {
    let limits = match file {
        Some(text) => {
            let table: toml::Table = toml::from_str(text).map_err(|e| anyhow::anyhow!("configuration file: {e}"))?;
            if let Some(other) = table.keys().find(|k| k.as_str() != "limits") {
                anyhow::bail!("configuration file: unknown table or key {other:?} (only [limits])");
            }
            match table.get("limits") {
                Some(value) => {
                    T::deserialize(value.clone()).map_err(|e| anyhow::anyhow!("configuration file: [limits]: {e}"))?
                }
                None => T::default(),
            }
        }
        None => T::default(),
    };
    let mut value = serde_json::to_value(&limits)?;
    let fields = value.as_object_mut().ok_or_else(|| anyhow::anyhow!("limits are a table"))?;
    for (key, text) in env {
        let Some(name) = key.strip_prefix(env_prefix) else { continue };
        let name = name.to_ascii_lowercase();
        let slot = fields.get_mut(&name).ok_or_else(|| anyhow::anyhow!("{key}: there is no limit named {name}"))?;
        *slot = serde_json::from_str(text.trim())
            .map_err(|_| anyhow::anyhow!("{key}: {text:?} is not a number or true/false"))?;
    }
    serde_json::from_value(value).map_err(|e| anyhow::anyhow!("limits: {e}"))
}
