//! Every AWS name derived from the project and stage, in one place so that synth, deploy and the key
//! policy (which must predict role ARNs before the roles exist) agree.

use contract::Function;

use crate::config::Stage;

/// Names for one stage of one project.
#[derive(Debug, Clone)]
pub struct Names {
    project: String,
    prefix: String,
}

impl Names {
    pub fn new(project: &str, stage: &Stage) -> Names {
        Names::of(project, &stage.name)
    }

    /// The names of stage `stage` of `project`, from the names alone (a pipeline's reviewer knows no
    /// more, and trusts no stages.toml to tell it).
    pub fn of(project: &str, stage: &str) -> Names {
        Names { project: project.to_owned(), prefix: format!("{project}-{stage}") }
    }

    /// Every stack a stage may have, in deploy order: bootstrap, data, api, pipeline.
    pub fn stacks(&self) -> [String; 4] {
        [self.bootstrap_stack(), self.data_stack(), self.api_stack(), self.pipeline_stack()]
    }

    /// `<project>-bootstrap`: one per account and region, shared by the stages deployed there.
    pub fn bootstrap_stack(&self) -> String {
        format!("{}-bootstrap", self.project)
    }

    /// `<project>-<stage>`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn data_stack(&self) -> String {
        format!("{}-data", self.prefix)
    }

    pub fn api_stack(&self) -> String {
        format!("{}-api", self.prefix)
    }

    /// The stage's delivery pipeline stack (`templates/<stage>/pipeline.yaml`).
    pub fn pipeline_stack(&self) -> String {
        format!("{}-pipeline", self.prefix)
    }

    /// The CodePipeline pipeline: `<project>-<stage>`.
    pub fn pipeline(&self) -> String {
        self.prefix.clone()
    }

    /// A role or CodeBuild project of the pipeline: `<project>-<stage>-ci-<what>`. Function names are
    /// letters and digits, so no function's role can take one of these names.
    pub fn ci(&self, what: &str) -> String {
        format!("{}-ci-{what}", self.prefix)
    }

    /// The stage's permissions boundary, a managed policy of the pipeline stack: every role the
    /// pipeline's deploy role makes must carry it.
    pub fn boundary(&self) -> String {
        format!("{}-boundary", self.prefix)
    }

    /// The prefix of the keys CodePipeline stores this pipeline's artifacts under: the first 20
    /// characters of its name (`config` keeps them apart between stages).
    pub fn pipeline_artifacts(&self) -> String {
        self.pipeline().chars().take(crate::config::ARTIFACT_PREFIX_CHARS).collect()
    }

    /// Function and role share a name; `config` checks that it fits in 64 characters.
    pub fn function(&self, f: &Function) -> String {
        format!("{}-{}", self.prefix, f.name())
    }

    pub fn role(&self, f: &Function) -> String {
        self.function(f)
    }

    pub fn log_group(&self, f: &Function) -> String {
        format!("/aws/lambda/{}", self.function(f))
    }

    pub fn access_log_group(&self) -> String {
        format!("/aws/apigateway/{}-access", self.prefix)
    }

    pub fn table(&self) -> String {
        format!("{}-users", self.prefix)
    }

    /// The table counting failed sign-ins per email.
    pub fn attempts_table(&self) -> String {
        format!("{}-signin-attempts", self.prefix)
    }

    /// The table of sessions and of users' "signed out everywhere" times.
    pub fn sessions_table(&self) -> String {
        format!("{}-sessions", self.prefix)
    }

    /// The table of one-time codes (email verification, password reset) and per-address mail counts.
    pub fn codes_table(&self) -> String {
        format!("{}-codes", self.prefix)
    }

    pub fn secret(&self) -> String {
        format!("{}/jwt-signing-key", self.prefix)
    }

    /// The secret whose key tags one-time codes.
    pub fn code_secret(&self) -> String {
        format!("{}/code-tag-key", self.prefix)
    }

    pub fn api(&self) -> String {
        self.prefix.clone()
    }

    /// The stage's AWS WAF web ACL, also its CloudWatch metric name: `[A-Za-z0-9_-]`, at most 128
    /// characters (the prefix is at most 53, so that `<prefix>-authorizer` fits Lambda's 64).
    pub fn web_acl(&self) -> String {
        format!("{}-api-acl", self.prefix)
    }

    /// The CloudWatch metric of one rule of the web ACL, e.g. `auth-dev-auth-ip-rate`.
    pub fn web_acl_metric(&self, rule: &str) -> String {
        format!("{}-{rule}", self.prefix)
    }

    pub fn export(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }

    /// The JWT `iss` claim: which deployment issued the token.
    pub fn token_issuer(&self) -> String {
        format!("{}/signin", self.prefix)
    }

    /// The JWT `aud` claim: which API accepts the token.
    pub fn token_audience(&self) -> String {
        format!("{}/api", self.prefix)
    }
}
