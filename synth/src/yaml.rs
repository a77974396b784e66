//! YAML rendering of JSON-shaped templates, quoting every scalar that any YAML reader could misread.
//!
//! Why not `yaml_serde::to_string`: it quotes by YAML 1.2's rules and writes `yes`, `on`, `2012-10-17`
//! or `12:30` bare, which YAML 1.1 readers (PyYAML in cfn-lint, CloudFormation's own parser, many
//! review tools) read as a boolean, a date or a number: an IAM policy `Version` would become a date.
//! Templates are plain JSON values, so block-style output with conservative quoting is a few lines.
//! A test parses every rendered template back with `yaml_serde` and compares it with the JSON.

use std::fmt::Write as _;

use serde_json::Value;

/// Renders a JSON value as a block-style YAML document.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(_) | Value::Array(_) if !is_empty(value) => node(&mut out, value, 0, false),
        scalar => {
            write_scalar(&mut out, scalar);
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
                write_string(out, key);
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
                    Value::String(text) if block_safe(text) => write_block(out, text, indent + 2),
                    scalar => {
                        out.push(' ');
                        write_scalar(out, scalar);
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
                    write_scalar(out, item);
                    out.push('\n');
                } else {
                    node(out, item, indent + 2, true);
                }
            }
        }
        scalar => {
            pad(out);
            write_scalar(out, scalar);
            out.push('\n');
        }
    }
}

/// Whether a multi-line string reads back unchanged as a literal block (`|`): printable lines, none
/// starting with a space (the first would set the block's indentation) and none ending in one (a
/// reader keeps them, but they are invisible to a reviewer), ending in exactly one line break.
fn block_safe(s: &str) -> bool {
    s.contains('\n')
        && s.ends_with('\n')
        && !s.ends_with("\n\n")
        && !s.starts_with([' ', '\n'])
        && s.lines().all(|l| !l.ends_with(' ') && !l.chars().any(|c| c.is_control()))
}

/// A multi-line string as a literal block after its key, each line at `indent` (empty lines empty).
fn write_block(out: &mut String, text: &str, indent: usize) {
    out.push_str(" |\n");
    for line in text.lines() {
        if !line.is_empty() {
            out.extend(std::iter::repeat_n(' ', indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Appends a scalar (or an empty collection, in flow style) to `out`. Rendering writes every scalar
/// of a template, so nothing here allocates but a string that needs quoting.
fn write_scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn write_string(out: &mut String, s: &str) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else {
        out.push_str(&string_text(s));
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
    // One pass over the bytes: rendering calls this for every key and string of a template.
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else { return false };
    if !(first.is_ascii_alphabetic() || first == b'/' || first == b'_') {
        return false;
    }
    if s.len() <= 5 && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    let mut previous = 0u8;
    for &b in bytes {
        let allowed = b.is_ascii_alphanumeric()
            || matches!(b, b'_' | b'.' | b'/' | b'@' | b'+' | b'=' | b'-' | b':' | b',' | b' ' | b'(' | b')');
        // `: ` starts a mapping value and `  ` is easily lost; `#` is not allowed at all.
        if !allowed || (b == b' ' && matches!(previous, b':' | b' ')) {
            return false;
        }
        previous = b;
    }
    !matches!(previous, b':' | b' ')
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
        let back: Value = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, v, "{text}");
        assert!(text.contains("Version: '2012-10-17'"), "{text}");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_that_round_trip() {
        let script = "version: 0.2\nphases:\n  build:\n    commands:\n      - cargo xtask test  # it's: fine\n\n";
        for text in [
            script.trim_end().to_owned() + "\n",
            "a\n\nb\n".to_owned(),
            " lead\n".into(),
            "x\n\n".into(),
            "t \n".into(),
        ] {
            let v = json!({"Outer": {"BuildSpec": text, "After": "x"}});
            let rendered = to_string(&v);
            let back: Value = yaml_serde::from_str(&rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
            assert_eq!(back, v, "{rendered}");
            assert_eq!(rendered.contains("BuildSpec: |\n"), block_safe(&text), "{rendered}");
        }
        assert!(block_safe("a\n\nb\n") && !block_safe(" lead\n") && !block_safe("x\n\n") && !block_safe("t \n"));
    }
}
