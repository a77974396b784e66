//! YAML rendering of JSON-shaped templates, quoting every scalar that any YAML reader could misread.
//!
//! Why not `serde_yaml::to_string`: it quotes by YAML 1.2's rules and writes `yes`, `on`, `2012-10-17`
//! or `12:30` bare, which YAML 1.1 readers (PyYAML in cfn-lint, CloudFormation's own parser, many
//! review tools) read as a boolean, a date or a number: an IAM policy `Version` would become a date.
//! Templates are plain JSON values, so block-style output with conservative quoting is a few lines.
//! A test parses every rendered template back with `serde_yaml` and compares it with the JSON.

use std::fmt::Write as _;

use serde_json::Value;

/// Renders a JSON value as a block-style YAML document.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(_) | Value::Array(_) if !is_empty(value) => node(&mut out, value, 0, false),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Writes a non-empty collection at `indent`. With `inline_first`, the first line continues a line
/// already started (after `- `), so it is not indented.
fn node(out: &mut String, value: &Value, indent: usize, inline_first: bool) {
    let mut first = true;
    let mut pad = |out: &mut String| {
        if !(first && inline_first) {
            out.extend(std::iter::repeat_n(' ', indent));
        }
        first = false;
    };
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                pad(out);
                out.push_str(&string_text(key));
                out.push(':');
                match v {
                    // Sequences under a key sit at the key's indent, as most YAML tools write them.
                    Value::Array(_) if !is_empty(v) => {
                        out.push('\n');
                        node(out, v, indent, false);
                    }
                    Value::Object(_) if !is_empty(v) => {
                        out.push('\n');
                        node(out, v, indent + 2, false);
                    }
                    scalar => {
                        out.push(' ');
                        out.push_str(&scalar_text(scalar));
                        out.push('\n');
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                pad(out);
                out.push_str("- ");
                if is_empty(item) || !(item.is_object() || item.is_array()) {
                    out.push_str(&scalar_text(item));
                    out.push('\n');
                } else {
                    node(out, item, indent + 2, true);
                }
            }
        }
        scalar => {
            pad(out);
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string_text(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// Words that YAML 1.1 or 1.2 read as booleans or null when bare.
const RESERVED: [&str; 11] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", ""];

fn string_text(s: &str) -> String {
    if is_plain_safe(s) {
        return s.to_owned();
    }
    if s.chars().any(|c| c.is_control()) {
        // A JSON string is a valid YAML double-quoted scalar.
        return serde_json::to_string(s).unwrap_or_default();
    }
    let mut out = String::with_capacity(s.len() + 2);
    let _ = write!(out, "'{}'", s.replace('\'', "''"));
    out
}

/// Whether `s` reads back as the same string, bare, in YAML 1.1 and 1.2 alike. Starting with a letter
/// rules out numbers, dates and times; the character set rules out indicators, comments and flow.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    (first.is_ascii_alphabetic() || first == '/' || first == '_')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "_./@+=-:, ()".contains(c))
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !s.ends_with(' ')
        && !s.contains("  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ambiguous_scalars_are_quoted() {
        for s in ["yes", "on", "No", "2012-10-17", "12:30", "1_000", "0755", "", "*", "a: b", "x #y", "'q'", "null"] {
            assert!(string_text(s).starts_with('\''), "{s:?} left bare");
        }
        assert_eq!(string_text("it's"), "'it''s'");
        assert_eq!(string_text("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn identifiers_and_arns_stay_bare() {
        for s in ["AWS::IAM::Role", "arn:aws:iam::aws:policy/x", "/aws/lambda/auth-dev-signup", "provided.al2023"] {
            assert_eq!(string_text(s), s);
        }
    }

    #[test]
    fn nested_collections_round_trip() {
        let v = json!({
            "Version": "2012-10-17",
            "Join": {"Fn::Join": [",", ["a", {"Ref": "B"}], []]},
            "List": [{"A": 1, "B": [true, null]}, [1, 2], "on"],
            "Empty": {},
            "Float": 50.0
        });
        let text = to_string(&v);
        let back: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, v, "{text}");
        assert!(text.contains("Version: '2012-10-17'"), "{text}");
    }
}
