//! A typed model of the small part of CloudFormation this project emits.
//!
//! Values are [`Expr`]essions whose intrinsics serialize to the long `Fn::` form, valid in JSON and in
//! YAML alike. A reference can only be made from the [`Handle`] that [`Template::add`] returns, so a
//! `Ref` or `Fn::GetAtt` to a resource that does not exist cannot be written. Every map that is
//! rendered is a `BTreeMap`, so the same input always renders to the same bytes.

pub mod iam;
pub mod resources;

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

pub use resources::Resource;

/// A CloudFormation logical id: ASCII letters and digits only, at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct LogicalId(String);

impl LogicalId {
    /// Makes a logical id, or says why the text is not one.
    pub fn new(id: impl Into<String>) -> Result<LogicalId, String> {
        let id = id.into();
        if id.is_empty() || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("`{id}` is not a logical id: use 1 to 255 ASCII letters and digits"));
        }
        Ok(LogicalId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LogicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pseudo parameter, resolved by CloudFormation at deploy time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pseudo {
    AccountId,
    Partition,
    Region,
    StackName,
    UrlSuffix,
}

impl Pseudo {
    pub const fn name(self) -> &'static str {
        match self {
            Pseudo::AccountId => "AWS::AccountId",
            Pseudo::Partition => "AWS::Partition",
            Pseudo::Region => "AWS::Region",
            Pseudo::StackName => "AWS::StackName",
            Pseudo::UrlSuffix => "AWS::URLSuffix",
        }
    }
}

/// One piece of an `Fn::Sub` string.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(String),
    Ref(LogicalId),
    GetAtt(LogicalId, &'static str),
    Pseudo(Pseudo),
}

impl From<&str> for Part {
    fn from(s: &str) -> Part {
        Part::Lit(s.to_owned())
    }
}

impl From<String> for Part {
    fn from(s: String) -> Part {
        Part::Lit(s)
    }
}

impl From<Pseudo> for Part {
    fn from(p: Pseudo) -> Part {
        Part::Pseudo(p)
    }
}

/// A CloudFormation value: a literal or an intrinsic function.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(String),
    Ref(LogicalId),
    Pseudo(Pseudo),
    GetAtt(LogicalId, &'static str),
    Sub(Vec<Part>),
    Join(String, Vec<Expr>),
    ImportValue(String),
}

impl Expr {
    /// `Fn::Sub` from pieces; a string of literals alone stays a plain string.
    pub fn sub(parts: impl IntoIterator<Item = Part>) -> Expr {
        let mut merged: Vec<Part> = Vec::new();
        for part in parts {
            match (merged.last_mut(), part) {
                (Some(Part::Lit(prev)), Part::Lit(next)) => prev.push_str(&next),
                (_, part) => merged.push(part),
            }
        }
        match merged.as_slice() {
            [] => Expr::Str(String::new()),
            [Part::Lit(s)] => Expr::Str(s.clone()),
            _ => Expr::Sub(merged),
        }
    }

    /// `arn:${AWS::Partition}:<service>:${AWS::Region}:${AWS::AccountId}:<rest...>`, the ARN of a
    /// resource whose name is known before it exists.
    pub fn arn(service: &str, regional: bool, rest: impl IntoIterator<Item = Part>) -> Expr {
        let mut parts = vec![Part::from("arn:"), Pseudo::Partition.into(), format!(":{service}:").into()];
        if regional {
            parts.push(Pseudo::Region.into());
        }
        parts.push(":".into());
        parts.push(Pseudo::AccountId.into());
        parts.push(":".into());
        parts.extend(rest);
        Expr::sub(parts)
    }
}

impl Part {
    fn template_text(&self) -> String {
        match self {
            // `${` in a literal would start a variable; `${!` is Fn::Sub's escape for a literal `${`.
            Part::Lit(s) => s.replace("${", "${!"),
            Part::Ref(id) => format!("${{{id}}}"),
            Part::GetAtt(id, attr) => format!("${{{id}.{attr}}}"),
            Part::Pseudo(p) => format!("${{{}}}", p.name()),
        }
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Expr {
        Expr::Str(s.to_owned())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Expr {
        Expr::Str(s)
    }
}

impl From<Pseudo> for Expr {
    fn from(p: Pseudo) -> Expr {
        Expr::Pseudo(p)
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expr::Str(v) => s.serialize_str(v),
            Expr::Ref(id) => single(s, "Ref", id.as_str()),
            Expr::Pseudo(p) => single(s, "Ref", p.name()),
            Expr::GetAtt(id, attr) => single(s, "Fn::GetAtt", &[id.as_str(), attr]),
            Expr::Sub(parts) => {
                let text: String = parts.iter().map(Part::template_text).collect();
                single(s, "Fn::Sub", &text)
            }
            Expr::Join(sep, items) => single(s, "Fn::Join", &JoinArgs(sep, items)),
            Expr::ImportValue(name) => single(s, "Fn::ImportValue", name),
        }
    }
}

fn single<S: Serializer, V: Serialize + ?Sized>(s: S, key: &str, value: &V) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(key, value)?;
    map.end()
}

struct JoinArgs<'a>(&'a str, &'a [Expr]);

impl Serialize for JoinArgs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(self.0)?;
        seq.serialize_element(self.1)?;
        seq.end()
    }
}

/// A typed reference to a resource that exists in a template.
#[derive(Debug)]
pub struct Handle<T> {
    id: LogicalId,
    kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        Handle { id: self.id.clone(), kind: PhantomData }
    }
}

impl<T> Handle<T> {
    pub fn id(&self) -> &LogicalId {
        &self.id
    }

    /// `Ref`: what it returns depends on the type (a name, an id or an ARN).
    pub fn reference(&self) -> Expr {
        Expr::Ref(self.id.clone())
    }

    /// The same `Ref`, as a piece of an `Fn::Sub` string.
    pub fn ref_part(&self) -> Part {
        Part::Ref(self.id.clone())
    }
}

/// A resource type whose `Fn::GetAtt <id>.Arn` is its ARN.
pub trait HasArn {}

impl<T: HasArn> Handle<T> {
    pub fn arn(&self) -> Expr {
        Expr::GetAtt(self.id.clone(), "Arn")
    }

    pub fn arn_part(&self) -> Part {
        Part::GetAtt(self.id.clone(), "Arn")
    }
}

impl<T> Handle<T> {
    /// A `Fn::GetAtt` of an attribute the type declares (see the `impl Handle<..>` blocks in
    /// `resources`); private so that no caller can invent an attribute name.
    fn attr(&self, attr: &'static str) -> Expr {
        Expr::GetAtt(self.id.clone(), attr)
    }
}

/// A template parameter, supplied at deploy time.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<&'static str>,
}

/// A typed handle to a parameter.
#[derive(Debug, Clone)]
pub struct ParamRef(LogicalId);

impl ParamRef {
    pub fn reference(&self) -> Expr {
        Expr::Ref(self.0.clone())
    }
}

/// An export of one stack, the only way another stack can import it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export(String);

impl Export {
    pub fn name(&self) -> &str {
        &self.0
    }

    pub fn import(&self) -> Expr {
        Expr::ImportValue(self.0.clone())
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    pub description: String,
    pub value: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportName>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExportName {
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Policy {
    Retain,
    Delete,
}

/// A resource with its CloudFormation attributes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Entry {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<LogicalId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_replace_policy: Option<Policy>,
    pub properties: Resource,
}

/// A CloudFormation template.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    #[serde(rename = "AWSTemplateFormatVersion")]
    format_version: &'static str,
    description: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    parameters: BTreeMap<LogicalId, Parameter>,
    resources: BTreeMap<LogicalId, Entry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    outputs: BTreeMap<LogicalId, Output>,
}

impl Template {
    pub fn new(description: impl Into<String>) -> Template {
        Template {
            format_version: "2010-09-09",
            description: description.into(),
            parameters: BTreeMap::new(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Adds a resource and returns the only handle from which references to it can be made.
    ///
    /// # Panics
    /// On an invalid or duplicate logical id: ids are chosen by this crate's code, not by users, so
    /// either is a bug that every test run would hit.
    pub fn add<T: Into<Resource>>(&mut self, id: &str, resource: T) -> Handle<T> {
        self.add_with(id, resource, |_| ())
    }

    /// [`Template::add`], then lets the caller set attributes such as `DependsOn` or `DeletionPolicy`.
    pub fn add_with<T: Into<Resource>>(&mut self, id: &str, resource: T, attrs: impl FnOnce(&mut Entry)) -> Handle<T> {
        let id = LogicalId::new(id).unwrap_or_else(|e| panic!("{e}"));
        let properties: Resource = resource.into();
        let mut entry = Entry {
            kind: properties.kind(),
            depends_on: Vec::new(),
            deletion_policy: None,
            update_replace_policy: None,
            properties,
        };
        attrs(&mut entry);
        assert!(entry.depends_on.iter().all(|d| self.resources.contains_key(d)), "{id} depends on a missing resource");
        let previous = self.resources.insert(id.clone(), entry);
        assert!(previous.is_none(), "duplicate logical id {id}");
        Handle { id, kind: PhantomData }
    }

    pub fn parameter(&mut self, id: &str, parameter: Parameter) -> ParamRef {
        let id = LogicalId::new(id).unwrap_or_else(|e| panic!("{e}"));
        let previous = self.parameters.insert(id.clone(), parameter);
        assert!(previous.is_none(), "duplicate parameter {id}");
        ParamRef(id)
    }

    pub fn output(&mut self, id: &str, description: impl Into<String>, value: Expr) {
        self.insert_output(id, Output { description: description.into(), value, export: None });
    }

    /// An output that other stacks can import; returns the handle they import it with.
    pub fn export(&mut self, id: &str, description: impl Into<String>, value: Expr, name: String) -> Export {
        let export = Export(name.clone());
        self.insert_output(id, Output { description: description.into(), value, export: Some(ExportName { name }) });
        export
    }

    fn insert_output(&mut self, id: &str, output: Output) {
        let id = LogicalId::new(id).unwrap_or_else(|e| panic!("{e}"));
        let previous = self.outputs.insert(id.clone(), output);
        assert!(previous.is_none(), "duplicate output {id}");
    }

    pub fn resources(&self) -> impl Iterator<Item = (&LogicalId, &Entry)> {
        self.resources.iter()
    }

    pub fn outputs(&self) -> impl Iterator<Item = (&LogicalId, &Output)> {
        self.outputs.iter()
    }

    pub fn parameters(&self) -> impl Iterator<Item = (&LogicalId, &Parameter)> {
        self.parameters.iter()
    }

    pub fn entry_mut(&mut self, id: &LogicalId) -> Option<&mut Entry> {
        self.resources.get_mut(id)
    }

    pub fn to_json(&self) -> serde_json::Value {
        // Serializing plain data structures with string keys cannot fail.
        serde_json::to_value(self).unwrap_or_else(|e| panic!("template does not serialize: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(s: &str) -> LogicalId {
        LogicalId::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn js(e: &Expr) -> serde_json::Value {
        serde_json::to_value(e).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn literal_is_a_plain_string() {
        assert_eq!(js(&Expr::from("x")), json!("x"));
    }

    #[test]
    fn ref_uses_the_long_form() {
        assert_eq!(js(&Expr::Ref(id("Table"))), json!({"Ref": "Table"}));
    }

    #[test]
    fn pseudo_parameter_is_a_ref() {
        assert_eq!(js(&Expr::Pseudo(Pseudo::Region)), json!({"Ref": "AWS::Region"}));
        assert_eq!(js(&Pseudo::UrlSuffix.into()), json!({"Ref": "AWS::URLSuffix"}));
    }

    #[test]
    fn get_att_is_a_two_element_list() {
        assert_eq!(js(&Expr::GetAtt(id("Role"), "Arn")), json!({"Fn::GetAtt": ["Role", "Arn"]}));
    }

    #[test]
    fn sub_renders_variables_and_escapes_literal_dollar_braces() {
        let e = Expr::sub([Part::from("arn:"), Pseudo::Partition.into(), Part::Ref(id("Api")), "/${x}".into()]);
        assert_eq!(js(&e), json!({"Fn::Sub": "arn:${AWS::Partition}${Api}/${!x}"}));
    }

    #[test]
    fn sub_of_literals_alone_is_a_string() {
        assert_eq!(Expr::sub(["a".into(), Part::from("b")]), Expr::Str("ab".into()));
    }

    #[test]
    fn join_is_separator_and_list() {
        let e = Expr::Join(",".into(), vec!["a".into(), Expr::Ref(id("B"))]);
        assert_eq!(js(&e), json!({"Fn::Join": [",", ["a", {"Ref": "B"}]]}));
    }

    #[test]
    fn import_value_names_the_export() {
        assert_eq!(
            js(&Expr::ImportValue("auth-dev-table-arn".into())),
            json!({"Fn::ImportValue": "auth-dev-table-arn"})
        );
    }

    #[test]
    fn arn_helper_builds_a_regional_arn() {
        let e = Expr::arn("logs", true, ["log-group:x".into()]);
        assert_eq!(
            js(&e),
            json!({"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:x"})
        );
        let global = Expr::arn("iam", false, ["role/r".into()]);
        assert_eq!(js(&global), json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/r"}));
    }

    #[test]
    fn logical_ids_are_alphanumeric() {
        assert!(LogicalId::new("Table1").is_ok());
        for bad in ["", "my-table", "a b", "é"] {
            assert!(LogicalId::new(bad).is_err(), "{bad:?} accepted");
        }
    }
}
