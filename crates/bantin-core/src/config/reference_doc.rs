//! `docs/configuration.md`, generated from the raw config structs: every
//! key with its type, default and description (the field's doc comment),
//! and whether a reload applies it ([`super::reference::restart_only`]).
//! The structs derive `schemars::JsonSchema` in tests only, so the
//! generator costs the program nothing; the test below fails when the file
//! and the code differ, and rewrites the file with `BANTIN_BLESS=1`.

use super::reference::restart_only;
use serde_json::Value;

/// The Markdown reference.
pub fn markdown() -> String {
    let schema = schemars::schema_for!(super::RawConfig);
    let root = schema.as_value();
    let mut out = String::from(HEADER);
    for section in section_order() {
        write_section(&mut out, root, &section, resolve(root, &root["properties"][section.as_str()]));
    }
    out
}

/// The sections in the order `RawConfig` declares them (the schema's maps
/// are sorted): the order TOML writes a default configuration's tables in.
fn section_order() -> Vec<String> {
    let minimal = "[site]\ntitle = \"T\"\nbase_url = \"https://example.org\"\n";
    let raw: super::RawConfig = toml::from_str(minimal).expect("the minimal configuration parses");
    let text = toml::to_string(&raw).expect("a raw configuration serialises");
    text.lines()
        .filter_map(|l| l.strip_prefix('[')?.strip_suffix(']').map(str::to_string))
        .filter(|name| !name.contains('.'))
        .collect()
}

const HEADER: &str = "\
# Configuration reference

<!-- Generated from the config types (crates/bantin-core/src/config/); do not edit by hand.
     Regenerate: BANTIN_BLESS=1 cargo test -p bantin-core --lib config::reference_doc -->

bantin reads one TOML file (`--config`, else `$BANTIN_CONFIG`, else `/etc/bantin/bantin.toml`
if it exists, else `config/bantin.toml`). Every key can be overridden by an environment
variable `BANTIN__SECTION__KEY` (e.g. `BANTIN__HTTP__LISTEN`). Unknown keys are refused, and
every value is checked at start: a bad one names the file and key and exits with code 78.

**Applies**: *reload* means `systemctl reload bantin` (SIGHUP) applies it; *restart* means a
reload logs the change and keeps the old value until bantin restarts. `[site]` keys reach feeds
and pages at a reload, mails and digest schedules at the next restart. A *duration* is a number
with a unit: `500ms`, `10s`, `5m`, `6h`, `7d`.
";

/// A schema node with `$ref` followed.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => &root["$defs"][name],
        None => node,
    }
}

fn write_section(out: &mut String, root: &Value, section: &str, fields: &Value) {
    out.push_str(&format!("\n## [{section}]\n\n| Key | Type | Default | Applies | Description |\n|---|---|---|---|---|\n"));
    let required: Vec<&str> = fields["required"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    let mut nested = Vec::new();
    for (key, field) in fields["properties"].as_object().into_iter().flatten() {
        let target = resolve(root, field);
        if target.get("properties").is_some() {
            nested.push((key.clone(), target));
            continue;
        }
        let full = format!("{section}.{key}");
        let default = if required.contains(&key.as_str()) { "required".to_string() } else { default_of(field) };
        let applies = if restart_only(&full) { "restart" } else { "reload" };
        let description = field["description"].as_str().unwrap_or("").replace('\n', " ").replace('|', "\\|");
        out.push_str(&format!("| `{key}` | {} | {default} | {applies} | {description} |\n", type_of(field)));
    }
    for (key, target) in nested {
        write_section(out, root, &format!("{section}.{key}"), target);
    }
}

/// The type a reader writes: durations are text such as `10m`, told apart
/// by their default.
fn type_of(field: &Value) -> String {
    let duration = field["default"].as_str().is_some_and(|d| super::parse_duration(d).is_ok() && d.ends_with(|c: char| c.is_ascii_alphabetic()));
    if duration {
        return "duration".to_string();
    }
    let one = |t: &str| match t {
        "string" => "text",
        "integer" => "integer",
        "boolean" => "boolean",
        "array" => "list of text",
        other => other,
    }
    .to_string();
    match &field["type"] {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").map(one).collect::<Vec<_>>().join(" or "),
        _ => "text".to_string(),
    }
}

fn default_of(field: &Value) -> String {
    match field.get("default") {
        None | Some(Value::Null) => "unset".to_string(),
        Some(Value::String(s)) if s.is_empty() => "`\"\"`".to_string(),
        Some(Value::String(s)) => format!("`{s}`"),
        Some(v) => format!("`{v}`"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn docs_configuration_md_matches_the_config_types() {
        let generated = super::markdown();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
        if std::env::var_os("BANTIN_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/configuration.md is not what the config types say; regenerate it with \
             BANTIN_BLESS=1 cargo test -p bantin-core --lib config::reference_doc"
        );
    }

    #[test]
    fn every_key_has_a_description() {
        let generated = super::markdown();
        let rows: Vec<&str> = generated.lines().filter(|l| l.starts_with("| `")).collect();
        assert!(rows.len() > 60, "{} keys", rows.len());
        for row in rows {
            assert!(!row.ends_with("|  |"), "a key without a doc comment on its raw field: {row}");
        }
    }

    #[test]
    fn sections_come_in_the_order_of_the_file() {
        let order = super::section_order();
        assert_eq!(order.first().map(String::as_str), Some("site"));
        assert!(order.len() >= 10 && order.contains(&"bounces".to_string()), "{order:?}");
    }

    #[test]
    fn restart_only_names_sections_and_keys() {
        assert!(crate::config::reference::restart_only("http.listen") && crate::config::reference::restart_only("digest.daily_at"));
        assert!(!crate::config::reference::restart_only("feeds.items") && !crate::config::reference::restart_only("site.title") && !crate::config::reference::restart_only("http.listenx"));
    }
}
