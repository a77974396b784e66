//! Configuration errors that point at the offending text: `stages.toml:line:column`, a caret, a fix.

use std::ops::Range;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// A problem in `stages.toml`, with where it is and what to do about it.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
    location: Option<(usize, usize)>,
    file: String,
}

impl ConfigError {
    /// The message alone, without location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line and column of the offending text, if the error has a place in the file.
    pub fn location(&self) -> Option<(usize, usize)> {
        self.location
    }

    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// `stages.toml:3:14: message`, the one-line form for logs and plain terminals.
    pub fn one_line(&self) -> String {
        match self.location {
            Some((line, col)) => format!("{}:{line}:{col}: {}", self.file, self.message),
            None => format!("{}: {}", self.file, self.message),
        }
    }
}

/// Builds errors against one source file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> ConfigError {
        let help = help.into();
        let location = span.as_ref().map(|s| line_column(self.text, s.start));
        ConfigError {
            message: message.into(),
            source_code: NamedSource::new(self.name, self.text.to_owned()),
            span: span.map(|s| SourceSpan::from(s.start..s.end.max(s.start))),
            label: "here".to_owned(),
            help: (!help.is_empty()).then_some(help),
            location,
            file: self.name.to_owned(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 11), (2, 6));
    }
}
