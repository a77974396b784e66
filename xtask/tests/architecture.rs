//! ARCHITECTURE.md names only paths and modules that exist (rust-analyzer's tidy tests check their
//! docs the same way): a file moved or a module renamed fails here, naming the line to fix. And its map
//! covers the code: a source file it does not name fails here too, naming the file.

use std::path::Path;
use std::process::Command;

/// Every file git knows in the workspace, relative to its root.
fn files(root: &Path) -> Vec<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["ls-files", "--cached", "--others", "--exclude-standard"])
        .output()
        .unwrap_or_else(|e| panic!("git ls-files: {e}"));
    String::from_utf8_lossy(&out.stdout).lines().filter(|f| root.join(f).exists()).map(str::to_owned).collect()
}

/// Whether `path` (a file, or a directory ending in `/`) is the end of some file's path.
fn exists(files: &[String], path: &str) -> bool {
    let path = path.trim_start_matches("./");
    files.iter().any(|f| {
        if path.ends_with('/') {
            f.starts_with(path) || f.contains(&format!("/{path}"))
        } else {
            f == path || f.ends_with(&format!("/{path}"))
        }
    })
}

/// `foo.rs`, `src/config/`, `templates/function/`: tokens that name a file or directory of ours, with
/// `{a,b}` groups expanded (`src/{signup,signin}.rs`).
fn path_tokens(line: &str) -> Vec<String> {
    line.split(|c: char| c.is_whitespace() || "()`'\"".contains(c))
        .flat_map(expand)
        .flat_map(|t| t.split([',', ';']).map(str::to_owned).collect::<Vec<_>>())
        .map(|t| t.trim_end_matches([':', '.']).to_owned())
        .filter(|t| {
            let file = [".rs", ".md", ".toml", ".yaml", ".py", ".txt", ".json"].iter().any(|e| t.ends_with(e));
            let dir = t.ends_with('/') && t.len() > 1 && !t.starts_with("http");
            (file || dir) && !t.contains('<') && !t.contains('*') && !t.contains('{') && !t.starts_with('/')
        })
        .collect()
}

/// `a/{b,c}.rs` as `a/b.rs` and `a/c.rs`; a token without a comma group as it is.
fn expand(token: &str) -> Vec<String> {
    match (token.find('{'), token.find('}')) {
        (Some(open), Some(close)) if open < close && token[open..close].contains(',') => token[open + 1..close]
            .split(',')
            .flat_map(|choice| expand(&format!("{}{choice}{}", &token[..open], &token[close + 1..])))
            .collect(),
        _ => vec![token.to_owned()],
    }
}

/// `synth::declarations::check` and the like: our crate, then modules, maybe an item.
fn module_paths(line: &str) -> Vec<String> {
    line.split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|code| code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')))
        .filter(|t| t.contains("::") && !t.starts_with("::"))
        .map(|t| t.trim_end_matches(':').to_owned())
        .collect()
}

const CRATES: [(&str, &str); 5] = [
    ("synth", "synth/src"),
    ("xtask", "xtask/src"),
    ("auth", "handlers/auth/src"),
    ("contract", "handlers/contract/src"),
    ("devenv", "xtask/devenv/src"),
];

/// Whether a module path resolves: `synth::a::b` in synth; `a::b` in whichever of our crates has a module
/// `a` (a path into another crate, `lambda_runtime::run`, is not ours to check).
fn resolves(root: &Path, path: &str) -> bool {
    let first = path.split("::").next().unwrap_or_default();
    if CRATES.iter().any(|(c, _)| *c == first) {
        return resolves_in(root, path);
    }
    let homes: Vec<&str> =
        CRATES.iter().filter(|(_, dir)| root.join(dir).join(format!("{first}.rs")).exists()).map(|(c, _)| *c).collect();
    homes.is_empty() || homes.iter().any(|c| resolves_in(root, &format!("{c}::{path}")))
}

/// [`resolves`] for a path that starts with one of our crates: the longest prefix that is a module file,
/// then an item it defines.
fn resolves_in(root: &Path, path: &str) -> bool {
    let segments: Vec<&str> = path.split("::").collect();
    let Some((_, dir)) = CRATES.iter().find(|(c, _)| *c == segments[0]) else { return true };
    for k in (1..=segments.len()).rev() {
        let module = if k == 1 {
            root.join(dir).join("lib.rs")
        } else {
            root.join(dir).join(format!("{}.rs", segments[1..k].join("/")))
        };
        let Ok(text) = std::fs::read_to_string(&module) else { continue };
        let Some(item) = segments.get(k) else { return true };
        return ["fn", "struct", "enum", "const", "mod", "trait", "type", "static"].iter().any(|kind| {
            text.contains(&format!("{kind} {item}("))
                || text.contains(&format!("{kind} {item} "))
                || text.contains(&format!("{kind} {item}<"))
                || text.contains(&format!("{kind} {item};"))
                || text.contains(&format!("{kind} {item}:"))
        });
    }
    false
}

fn problems(root: &Path, text: &str) -> Vec<String> {
    let files = files(root);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for token in path_tokens(line) {
            if !exists(&files, &token) {
                out.push(format!("ARCHITECTURE.md:{}: no file or directory `{token}`", n + 1));
            }
        }
        for path in module_paths(line) {
            if !resolves(root, &path) {
                out.push(format!("ARCHITECTURE.md:{}: no module or item `{path}`", n + 1));
            }
        }
    }
    out
}

#[test]
fn architecture_md_names_only_what_exists() {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_else(|e| panic!("{e}"));
    let problems = problems(&root, &text);
    assert!(problems.is_empty(), "fix ARCHITECTURE.md:\n{}", problems.join("\n"));
}

/// The source files a reader of the map must find there: every `.rs` under a crate's `src/`, each crate's
/// `build.rs`, and the emulator's launcher; not tests, test support or fixtures.
fn sources(files: &[String]) -> Vec<&String> {
    files
        .iter()
        .filter(|f| {
            let rust = f.ends_with(".rs") && (f.contains("/src/") || f.ends_with("/build.rs"));
            let test = f.contains("/tests/")
                || f.ends_with("/tests.rs")
                || f.ends_with("/testing.rs")
                || f.contains("/templates/")
                || f.contains("/fixtures/");
            (rust || f.ends_with(".py")) && !test
        })
        .collect()
}

/// The workspace paths the map names, each read in its place: a line that starts at the left names a
/// top-level folder (`synth/`, `handlers/auth/`); an indented entry (`src/config.rs`, `src/local/`) is
/// under it; the other names on an entry's lines are under the entry's folder (`config/raw.rs` beside
/// `src/config.rs`, `gates.rs` in `src/deploy/`). A name that starts with a top-level folder is whole.
fn named_paths(map: &str) -> Vec<String> {
    const TOP: [&str; 4] = ["synth/", "xtask/", "handlers/", "templates/"];
    let (mut tops, mut bases): (Vec<String>, Vec<String>) = (vec![String::new()], vec![String::new()]);
    let mut out = Vec::new();
    for line in map.lines() {
        let tokens = path_tokens(line);
        let indent = line.len() - line.trim_start().len();
        let first = line.split_whitespace().next().unwrap_or_default();
        let starts_with_path =
            tokens.first().is_some_and(|t| first.starts_with(t.as_str()) || expand(first).contains(t));
        if indent == 0 && starts_with_path && first.ends_with('/') {
            tops = expand(first);
            bases = tops.clone();
        } else if indent == 2 && starts_with_path {
            let entry = expand(first);
            let folder = |e: &String| {
                if e.ends_with('/') {
                    e.clone()
                } else {
                    e.rsplit_once('/').map_or(String::new(), |(d, _)| format!("{d}/"))
                }
            };
            bases = tops.iter().flat_map(|t| entry.iter().map(move |e| format!("{t}{}", folder(e)))).collect();
            out.extend(tops.iter().flat_map(|t| entry.iter().map(move |e| format!("{t}{e}"))));
        }
        for token in tokens {
            if TOP.iter().any(|t| token.starts_with(t)) {
                out.push(token);
            } else {
                out.extend(bases.iter().map(|b| format!("{b}{token}")));
            }
        }
    }
    out
}

/// The source files the map does not name, each with what to do.
fn uncovered(root: &Path, map: &str) -> Vec<String> {
    let files = files(root);
    let named = named_paths(map);
    sources(&files)
        .into_iter()
        .filter(|f| !named.iter().any(|n| n == *f))
        .map(|f| {
            format!("ARCHITECTURE.md's map does not name {f}: add it to the map under its crate, with what it does")
        })
        .collect()
}

/// The `## Map` section.
fn map_of(text: &str) -> &str {
    let start = text.find("## Map").unwrap_or_else(|| panic!("ARCHITECTURE.md has no ## Map"));
    let end = text[start + 1..].find("\n## ").map_or(text.len(), |i| start + 1 + i);
    &text[start..end]
}

#[test]
fn the_map_names_every_source_file() {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_else(|e| panic!("{e}"));
    let missing = uncovered(&root, map_of(&text));
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn a_source_file_missing_from_the_map_is_caught() {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_else(|e| panic!("{e}"));
    let without = map_of(&text).replace("routing.rs", "");
    assert_eq!(
        uncovered(&root, &without),
        [
            "ARCHITECTURE.md's map does not name xtask/src/local/routing.rs: add it to the map under its crate, with what \
          it does"
        ]
    );
}

#[test]
fn the_names_the_old_map_got_wrong_are_caught() {
    // Before functions were declared as data, the map named a declarations file and a grants function
    // that had gone.
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let old = "  src/functions.rs     THE one place functions are declared\n\
               only the actions `stacks::api::grants` lists for it";
    assert_eq!(problems(&root, old).len(), 2, "{:?}", problems(&root, old));
}

#[test]
fn a_stale_name_is_caught() {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let stale = "  src/functions.rs     the one place\nonly the actions `synth::stacks::api::grants` lists\n\
                 `synth::declarations::check`, synth/src/declarations.rs and handlers/{auth,hello}/ exist";
    assert_eq!(
        problems(&root, stale),
        [
            "ARCHITECTURE.md:1: no file or directory `src/functions.rs`",
            "ARCHITECTURE.md:2: no module or item `synth::stacks::api::grants`"
        ]
    );
}
