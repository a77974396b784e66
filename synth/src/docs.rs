//! The README's lists that the code knows, generated between markers as rust-analyzer's sourcegen does:
//! each `<!-- generated:NAME -->` ... `<!-- /generated:NAME -->` block is rewritten from the model, the
//! prose around it is kept, and `cargo xtask synth --check` fails when a block differs. No I/O: xtask
//! reads and writes the file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use contract::{Function, Target};

use crate::config::{Config, INHERITED};
use crate::{File, TEMPLATES_DIR};

/// The README's generated blocks, by marker name.
pub const SECTIONS: [&str; 4] = ["functions", "grant-targets", "stage-keys", "files"];

/// What each generated file of a stage is, by file name: the README lists them from here, and
/// [`readme`] refuses a generated file that is not described.
const FILES: &[(&str, &str)] = &[
    ("bootstrap.yaml", "the `<project>-bootstrap` stack, once per account and region: API Gateway's logging role"),
    (
        "data.yaml",
        "the `<project>-<stage>-data` stack: the tables, the password-hash key, the signing secret and the SES identity",
    ),
    ("api.yaml", "the `<project>-<stage>-api` stack: the functions, the REST API and its web ACL"),
    ("pipeline.yaml", "the `<project>-<stage>-pipeline` stack, with `[pipeline]`: the stage's delivery pipeline"),
    ("iam.md", "every permission of the stage's stacks, one row each"),
    ("defences.md", "every defence of the stage, with its value and the direction that weakens it"),
    (
        "diagram.md",
        "a Mermaid flowchart of the stage: WAF, API, routes and authorizer, functions, data, and each function's \
         granted actions on each resource",
    ),
];

/// `text` with every generated block rewritten from `config` and the files synth generated for it
/// (`generated`, so that nothing is synthesized twice). Blocks the text does not have are left out; a
/// marker that opens and does not close, or names no block, is an error.
pub fn readme(text: &str, config: &Config, generated: &[File]) -> Result<String, String> {
    const OPEN: &str = "<!-- generated:";
    // A README kept with CRLF line endings gets its blocks with CRLF too.
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find(OPEN) {
        let start = from + found;
        from = start + OPEN.len();
        // A marker shown in a code block is an example, not a block.
        if in_code_block(&text[..start]) {
            continue;
        }
        let open_end =
            text[start..].find("-->").map(|i| start + i + 3).ok_or("a `<!-- generated:` marker is not closed")?;
        let name = text[start + OPEN.len()..open_end - 3].trim();
        let block = section(name, config, generated)?;
        let close = format!("<!-- /generated:{name} -->");
        let close_at = text[open_end..].find(&close).ok_or_else(|| format!("`{close}` is missing"))? + open_end;
        if text[open_end..close_at].contains(OPEN) {
            return Err(format!("the {name} block is not closed before the next block begins: `{close}` is missing"));
        }
        out.push_str(&text[done..open_end]);
        out.push_str(newline);
        out.push_str(newline);
        out.push_str(&block.replace('\n', newline));
        out.push_str(newline);
        out.push_str(&close);
        done = close_at + close.len();
        from = done;
    }
    out.push_str(&text[done..]);
    Ok(out)
}

/// Whether the end of `before` is inside a fenced code block (an odd number of fences opened so far).
fn in_code_block(before: &str) -> bool {
    before.lines().filter(|l| l.trim_start().starts_with("```")).count() % 2 == 1
}

/// One generated block, ending in a newline.
fn section(name: &str, config: &Config, generated: &[File]) -> Result<String, String> {
    match name {
        "functions" => Ok(functions(&config.functions)),
        "grant-targets" => Ok(grant_targets()),
        "stage-keys" => Ok(stage_keys()),
        "files" => files(config, generated),
        other => {
            Err(format!("`<!-- generated:{other} -->` names no generated block; they are {}", SECTIONS.join(", ")))
        }
    }
}

/// The declared functions: route, access and grants.
fn functions(functions: &[Function]) -> String {
    let mut out = String::from("| function | route | access | grants |\n|---|---|---|---|\n");
    for f in functions {
        let (route, access) = match f.route() {
            Some(r) => {
                (format!("`{} {}`", r.method.as_str(), r.path), if r.authorized() { "private" } else { "public" })
            }
            None if f.is_authorizer() => ("none: API Gateway calls it before each private route".to_owned(), ""),
            None => (String::new(), ""),
        };
        let mut by_target: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for g in f.grants() {
            by_target.entry(g.on.key()).or_default().push(format!("`{}`", g.action));
        }
        let grants: Vec<String> = by_target.iter().map(|(t, a)| format!("`{t}`: {}", a.join(", "))).collect();
        let _ = writeln!(out, "| `{}` | {route} | {access} | {} |", f.name(), grants.join("; "));
    }
    out
}

/// The resources a declaration may grant on, what each is, their actions and the variable that names each.
fn grant_targets() -> String {
    let mut out = String::from("| resource | what it is | actions | variable in `env` |\n|---|---|---|---|\n");
    for t in Target::ALL {
        let actions: Vec<String> = t.actions().iter().map(|a| format!("`{a}`")).collect();
        let _ = writeln!(out, "| `{}` | {} | {} | `{}` |", t.key(), what(t), actions.join(", "), t.env().name());
    }
    out
}

/// What a grant target is, for a reader of the README; with the condition every grant on it carries.
fn what(target: Target) -> &'static str {
    match target {
        Target::UsersTable => "the users table (DynamoDB), by normalized email",
        Target::PasswordKey => {
            "the KMS key that encrypts password hashes; every grant requires the `email` encryption context"
        }
        Target::SigningSecret => "the secret that signs JWTs; its resource policy admits only the roles granted it",
        Target::AttemptsTable => "the counts of failed sign-ins (items expire)",
        Target::SessionsTable => "sessions and users' sign-out-everywhere times (items expire)",
        Target::CodesTable => "one-time codes and the mails sent to each address (items expire)",
        Target::CodeSecret => {
            "the secret that tags one-time codes; its resource policy admits only the roles granted it"
        }
        Target::MailIdentity => {
            "the stage's SES identity (`mail` in stages.toml); every grant requires `ses:FromAddress` to be the \
             stage's sender"
        }
    }
}

/// The settings a stage inherits from `[defaults]`.
fn stage_keys() -> String {
    let mut out = String::from("| key | what it sets |\n|---|---|\n");
    for (key, meaning) in INHERITED {
        let _ = writeln!(out, "| `{key}` | {meaning} |");
    }
    out
}

/// The files `cargo xtask synth` writes for a stage, as the first stage's show them.
fn files(config: &Config, generated: &[File]) -> Result<String, String> {
    let Some(stage) = config.stages.values().next() else { return Ok(String::new()) };
    let dir = format!("{TEMPLATES_DIR}/{}/", stage.name);
    let mut out = String::new();
    for file in generated.iter().filter(|f| f.path == crate::BOOTSTRAP_FILE || f.path.starts_with(&dir)) {
        let name = file.path.rsplit('/').next().unwrap_or(&file.path);
        let (_, what) = FILES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| format!("synth/src/docs.rs: describe the generated file {name} in FILES"))?;
        let path = file.path.replace(&format!("/{}/", stage.name), "/<stage>/");
        let _ = writeln!(out, "- `{path}`: {what}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "project = \"auth\"\nregion = \"us-east-1\"\narchitecture = \"x86_64\"\n[stages.dev]\n\
                    mail = { sender = \"no-reply@example.com\", domain = \"example.com\" }\n";
        crate::parse("stages.toml", text, &testkit::functions()).unwrap_or_else(|e| panic!("{}", e.one_line()))
    }

    #[test]
    fn blocks_are_rewritten_and_the_prose_around_them_kept() {
        let text = "intro\n<!-- generated:grant-targets -->\nold\n<!-- /generated:grant-targets -->\noutro\n";
        let out = readme(text, &config(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.starts_with("intro\n<!-- generated:grant-targets -->\n\n| resource |"), "{out}");
        assert!(out.ends_with("|\n\n<!-- /generated:grant-targets -->\noutro\n"), "{out}");
        assert!(!out.contains("old"));
        assert_eq!(readme(&out, &config(), &[]), Ok(out.clone()), "generating again changes nothing");
        for t in Target::ALL {
            assert!(out.contains(&format!("| `{}` |", t.key())), "{t} is listed");
        }
    }

    #[test]
    fn a_marker_in_a_code_block_is_left_alone_and_crlf_is_kept() {
        let text = "```\n<!-- generated:nothing -->\n```\n";
        assert_eq!(readme(text, &config(), &[]), Ok(text.to_owned()));
        let crlf = "a\r\n<!-- generated:stage-keys -->\r\n<!-- /generated:stage-keys -->\r\n";
        let out = readme(crlf, &config(), &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.replace("\r\n", "").contains('\n'), "every line ends in CRLF: {out:?}");
    }

    #[test]
    fn a_block_closed_after_the_next_one_opens_is_an_error() {
        let text = "<!-- generated:files -->\n<!-- generated:stage-keys -->\n<!-- /generated:stage-keys -->\n\
                    <!-- /generated:files -->\n";
        let err = readme(text, &config(), &[]).err().unwrap_or_default();
        assert!(err.contains("the files block is not closed before the next block begins"), "{err}");
    }

    #[test]
    fn a_block_without_its_end_or_with_an_unknown_name_is_an_error() {
        let unclosed = readme("<!-- generated:files -->\n", &config(), &[]);
        assert!(unclosed.is_err_and(|e| e.contains("<!-- /generated:files -->` is missing")));
        let unknown = readme("<!-- generated:nothing -->\n<!-- /generated:nothing -->\n", &config(), &[]);
        assert!(unknown.is_err_and(|e| e.contains("names no generated block")));
    }

    #[test]
    fn every_generated_file_and_every_function_is_listed() {
        let config = config();
        let generated = crate::all_files(&config).unwrap_or_else(|e| panic!("{e}"));
        let files = files(&config, &generated).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(files.lines().count(), generated.len());
        assert!(files.contains("- `templates/<stage>/api.yaml`"), "{files}");
        let listed = functions(&config.functions);
        for f in &config.functions {
            assert!(listed.contains(&format!("| `{}` |", f.name())), "{f} is listed");
        }
    }
}
