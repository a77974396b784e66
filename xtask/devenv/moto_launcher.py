"""Runs moto's server on 127.0.0.1 for the project's tests and `cargo xtask local`.

Prints "PORT <n>" once the socket listens (port 0 asks the OS for a free one), and exits when its
standard input closes, so a test process that dies never leaves a server behind.

It also mends measured gaps of moto 5.2's CloudFormation (see shared/AWS-NOTES.md); the emulator is
fixed here, in the harness, and the product's templates and deploy code stay as they must be for AWS:
- stacks made through change sets register no Outputs or Exports and cannot resolve Fn::ImportValue,
  which CreateStack does;
- applying a change set creates new resources in template order, ignoring DependsOn (CreateStack
  honours it), so an API Gateway Deployment is made before the Methods it depends on;
- a change set's list of changes ignores changed parameters (the update itself applies them), so a
  code-only change showed no Modify row;
- AWS::SecretsManager::Secret is not supported at all (skipped, so its Ref and exports are missing);
- an AWS::KMS::Key with Tags fails (moto expects the KMS API's TagKey/TagValue, not CloudFormation's
  Key/Value), and its KeyPolicy is stored as an object, which breaks DescribeKey;
- AWS::SecretsManager::ResourcePolicy is not supported (skipped, so the secret keeps no policy);
- AWS::WAFv2::WebACL and AWS::WAFv2::WebACLAssociation are not supported (skipped, so a stage's web
  ACL is never made), although moto's WAFv2 API is: the models below create them through it;
- UpdateTerminationProtection is not implemented, and DeleteStack ignores termination protection;
- GetTemplate ignores ChangeSetName and answers the stack's template, not the change set's;
- bucket policies are evaluated with no aws:SecureTransport value, so a policy denying requests
  without TLS denies every request to a server that only speaks plain HTTP (the harness stands in for
  AWS's TLS endpoints, so requests count as secure);
- AWS::CodeBuild::Project and AWS::CodePipeline::Pipeline are not supported (skipped, so a pipeline
  stack makes neither), although moto's CodeBuild and CodePipeline APIs are: the models below create
  them through those APIs;
- CodeConnections has no moto service at all: a minimal one below keeps connections made with
  CreateConnection and answers GetConnection. A connection starts PENDING, as on AWS, where only the
  console completes its hand-shake; a harness-only tag `harness:status` at creation sets another status,
  standing in for that console step;
- a bucket policy's `Null` condition on `s3:if-none-match` and `Bool` on `s3:ObjectCreationOperation`
  are held as met whatever the request (moto evaluates no request context), so a policy that makes
  code keys write-once would refuse every upload: the patch below reads them off the request;
- Lambda ignores `S3ObjectVersion`, creating and updating a function from the key's latest version:
  the patch below reads the pinned version, as Lambda does;
- CodePipeline's GetPipeline gives the metadata's `created` and `updated` as ISO strings where the
  JSON 1.1 protocol has epoch seconds, which the SDKs refuse: the model below gives them as numbers;
- CodePipeline records no action executions (moto runs no action), so ListActionExecutions,
  GetPipelineState and PutApprovalResult are missing: a minimal model below keeps what the local
  pipeline runner (`cargo xtask pipeline run --local`, which stands in for CodePipeline running the
  actions) reports through the harness-only call `HarnessRecordActionExecution`, issues approval tokens
  and takes a person's approval through the real PutApprovalResult;
- CodeBuild's builds carry no `resolvedSourceVersion` (moto clones nothing): the local runner starts
  each build with the commit it clones as its source version, which the patch below records as
  resolved. (On AWS, a build CodePipeline starts may report the revision CodePipeline passed instead;
  the README says what then stands in for the review's check.)
- DescribeChangeSet answers every change on one page, where CloudFormation pages a large change set:
  the harness pages at one change, so that every reader must follow NextToken (and a stack's events at
  three, its resources at two);
- DynamoDB's conditional writes are not atomic: the server is threaded and the backend checks a
  condition and then writes with no lock, so two concurrent updates can both pass a condition only
  one of them may (DynamoDB serializes writes to an item); the writes below take one lock.
- Drift detection (DetectStackDrift and its two readers) is not implemented: the harness compares what
  it can read back (a Lambda function's memory, timeout and environment; whether it exists) and calls
  every other resource NOT_CHECKED;
- AWS::SES::EmailIdentity is not supported (skipped, so a stage's identity is never made and SES
  refuses its sender), although moto's SES backend keeps identities: the model below creates the
  identity there, verified (the emulator has no DNS to publish the DKIM records in), and answers
  Fn::GetAtt for the three Easy DKIM records with names and values of SES's form;
- SES verifies an address when its own domain is an identity, but not through a parent domain, which
  SES does (an identity for auth.example.com lets no-reply@mail.auth.example.com send): the patch
  below walks up the sender's domain.
"""

import json
import datetime
import sys
import threading

from moto.cloudformation.models import CloudFormationBackend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

_create_change_set = CloudFormationBackend.create_change_set
_execute_change_set = CloudFormationBackend.execute_change_set


def create_change_set(self, stack_name, *args, **kwargs):
    change_set_id, stack_id = _create_change_set(self, stack_name, *args, **kwargs)
    stack = self.stacks[stack_id]
    # Let the stack resolve Fn::ImportValue against the exports of other stacks.
    stack.cross_stack_resources = self.exports
    stack.resource_map.cross_stack_resources = self.exports
    return change_set_id, stack_id


def execute_change_set(self, change_set_name, stack_name=None):
    _execute_change_set(self, change_set_name, stack_name)
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    # As CloudFormation does: the stack records when it last changed, and every other change set of it
    # that was waiting becomes OBSOLETE (it was computed against a state that is gone).
    stack.last_updated_time = datetime.datetime.now(datetime.timezone.utc)
    for other in self.change_sets.values():
        if other.stack_id == stack.stack_id and other is not change_set and other.execution_status == "AVAILABLE":
            other.execution_status = "OBSOLETE"
    # Register the outputs and exports, as CreateStack and UpdateStack do.
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del self.exports[name]
    for export in stack.exports:
        self.exports[export.name] = export


CloudFormationBackend.create_change_set = create_change_set
CloudFormationBackend.execute_change_set = execute_change_set

from moto.cloudformation.parsing import ResourceMap  # noqa: E402

_build_resource_diff = ResourceMap.build_resource_diff


def build_resource_diff(self, other_template, parameters=None):
    diff = _build_resource_diff(self, other_template, parameters)
    resources = other_template.get("Resources", {})
    order = []

    def visit(name, path):
        if name in order or name in path or name not in resources:
            return
        depends = resources[name].get("DependsOn", [])
        for dependency in [depends] if isinstance(depends, str) else depends:
            visit(dependency, path | {name})
        order.append(name)

    for name in resources:
        visit(name, frozenset())
    rank = {name: i for i, name in enumerate(order)}
    diff["Add"] = sorted(diff["Add"], key=lambda name: rank.get(name, -1))
    return diff


ResourceMap.build_resource_diff = build_resource_diff

from moto.cloudformation.models import ChangeSet  # noqa: E402

_change_set_diff = ChangeSet.diff


def change_set_diff(self):
    # Let the diff see this change set's parameters, as the update that applies it does.
    resource_map = self.stack.resource_map
    parameters = self.parameters
    resource_map.build_resource_diff = lambda template, _=None: build_resource_diff(resource_map, template, parameters)
    try:
        return _change_set_diff(self)
    finally:
        del resource_map.build_resource_diff


ChangeSet.diff = change_set_diff

from moto.kms.models import Key as KmsKey  # noqa: E402

_kms_key_from_cfn = KmsKey.create_from_cloudformation_json.__func__


def kms_key_from_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = dict(cloudformation_json.get("Properties", {}))
    props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])]
    if not isinstance(props.get("KeyPolicy"), str):
        props["KeyPolicy"] = json.dumps(props.get("KeyPolicy"))
    fixed = dict(cloudformation_json, Properties=props)
    return _kms_key_from_cfn(cls, resource_name, fixed, account_id, region_name, **kwargs)


KmsKey.create_from_cloudformation_json = classmethod(kms_key_from_cfn)

from moto.core.common_models import CloudFormationModel  # noqa: E402
from moto.secretsmanager.models import secretsmanager_backends  # noqa: E402


class CloudFormationSecret(CloudFormationModel):
    """AWS::SecretsManager::Secret through moto's Secrets Manager backend; Ref is the secret's ARN."""

    # moto files CloudFormation models by the service named in their module path.
    __module__ = "moto.secretsmanager.cloudformation_secret"

    def __init__(self, arn, name, account_id, region_name):
        self.arn = arn
        self.name = name
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self):
        return self.arn

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name):
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        value = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if value is None and generate is not None:
            value = json.loads(
                backend.get_random_password(
                    password_length=int(generate.get("PasswordLength", 32)),
                    exclude_characters=generate.get("ExcludeCharacters", ""),
                    exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
                    exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
                    exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
                    exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
                    include_space=bool(generate.get("IncludeSpace", False)),
                    require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
                )
            )["RandomPassword"]
        created = json.loads(
            backend.create_secret(
                name=props.get("Name") or resource_name,
                secret_string=value,
                secret_binary=None,
                description=props.get("Description"),
                tags=props.get("Tags", []),
                kms_key_id=props.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
        )
        return cls(created["ARN"], created["Name"], account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = secretsmanager_backends[account_id][region_name]
        name = cloudformation_json.get("Properties", {}).get("Name") or resource_name
        backend.delete_secret(secret_id=name, recovery_window_in_days=None, force_delete_without_recovery=True)

    def delete(self, account_id, region_name):
        backend = secretsmanager_backends[account_id][region_name]
        backend.delete_secret(secret_id=self.arn, recovery_window_in_days=None, force_delete_without_recovery=True)


class CloudFormationSecretPolicy(CloudFormationModel):
    """AWS::SecretsManager::ResourcePolicy through moto's Secrets Manager backend."""

    __module__ = "moto.secretsmanager.cloudformation_secret_policy"

    def __init__(self, secret_id):
        self.secret_id = secret_id

    @property
    def physical_resource_id(self):
        return self.secret_id

    @staticmethod
    def cloudformation_name_type():
        return ""

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::ResourcePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        policy = props.get("ResourcePolicy")
        backend = secretsmanager_backends[account_id][region_name]
        backend.put_resource_policy(secret_id=props["SecretId"], policy=json.dumps(policy))
        return cls(props["SecretId"])

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = secretsmanager_backends[account_id][region_name]
        backend.delete_resource_policy(secret_id=cloudformation_json.get("Properties", {}).get("SecretId"))


import base64  # noqa: E402

from moto.wafv2.models import wafv2_backends  # noqa: E402


def waf_api_shape(value):
    """CloudFormation's WAF rules as the WAFv2 API takes them: a byte match's SearchString is text in
    CloudFormation (or SearchStringBase64) and a base64 blob in the API."""
    if isinstance(value, list):
        return [waf_api_shape(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: waf_api_shape(v) for k, v in value.items()}
    if "PositionalConstraint" in out:
        if "SearchStringBase64" in out:
            out["SearchString"] = out.pop("SearchStringBase64")
        elif "SearchString" in out:
            out["SearchString"] = base64.b64encode(out["SearchString"].encode()).decode()
    return out


class CloudFormationWebAcl(CloudFormationModel):
    """AWS::WAFv2::WebACL through moto's WAFv2 backend. Ref is `name|id|scope`, as on AWS."""

    __module__ = "moto.wafv2.cloudformation_web_acl"

    def __init__(self, acl, scope, account_id, region_name):
        self.acl = acl
        self.scope = scope
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self):
        return f"{self.acl.name}|{self.acl.id}|{self.scope}"

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @staticmethod
    def cloudformation_type():
        return "AWS::WAFv2::WebACL"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in ("Arn", "Id", "LabelNamespace", "Capacity")

    def get_cfn_attribute(self, attribute_name):
        return {
            "Arn": self.acl.arn,
            "Id": self.acl.id,
            "LabelNamespace": self.acl.label_namespace,
            "Capacity": self.acl.capacity,
        }[attribute_name]

    @staticmethod
    def _settings(props):
        return dict(
            default_action=props["DefaultAction"],
            rules=waf_api_shape(props.get("Rules", [])),
            description=props.get("Description"),
            visibility_config=props["VisibilityConfig"],
            custom_response_bodies=props.get("CustomResponseBodies"),
            captcha_config=props.get("CaptchaConfig"),
            challenge_config=props.get("ChallengeConfig"),
            token_domains=props.get("TokenDomains"),
            association_config=props.get("AssociationConfig"),
        )

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        backend = wafv2_backends[account_id][region_name]
        acl = backend.create_web_acl(
            name=props.get("Name") or resource_name,
            scope=props["Scope"],
            tags=props.get("Tags", []),
            **cls._settings(props),
        )
        return cls(acl, props["Scope"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = cloudformation_json.get("Properties", {})
        renamed = (props.get("Name") or new_resource_name) != original_resource.acl.name
        if renamed or props["Scope"] != original_resource.scope:
            # A new name or scope replaces the web ACL, as CloudFormation does.
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        acl = original_resource.acl
        backend = wafv2_backends[account_id][region_name]
        settings = cls._settings(props)
        backend.update_web_acl(name=acl.name, _id=acl.id, lock_token=acl.lock_token, **settings)
        # moto keeps the old rules when given none; CloudFormation's update replaces them.
        if not settings["rules"]:
            acl.rules = []
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        name, _id, scope = resource_name.split("|")
        backend = wafv2_backends[account_id][region_name]
        acl = backend.get_web_acl(None, name, _id)
        backend.delete_web_acl(name, scope, _id, acl.lock_token)

    def delete(self, account_id, region_name):
        backend = wafv2_backends[account_id][region_name]
        backend.delete_web_acl(self.acl.name, self.scope, self.acl.id, self.acl.lock_token)


class CloudFormationWebAclAssociation(CloudFormationModel):
    """AWS::WAFv2::WebACLAssociation through moto's WAFv2 backend."""

    __module__ = "moto.wafv2.cloudformation_web_acl_association"

    def __init__(self, resource_arn, web_acl_arn):
        self.resource_arn = resource_arn
        self.web_acl_arn = web_acl_arn

    @property
    def physical_resource_id(self):
        return f"{self.resource_arn}|{self.web_acl_arn}"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @staticmethod
    def cloudformation_type():
        return "AWS::WAFv2::WebACLAssociation"

    @classmethod
    def has_cfn_attr(cls, attr):
        return False

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        backend = wafv2_backends[account_id][region_name]
        # One web ACL per resource: a new association replaces the resource's previous one, as on AWS.
        backend.disassociate_web_acl(props["ResourceArn"])
        backend.associate_web_acl(props["WebACLArn"], props["ResourceArn"])
        return cls(props["ResourceArn"], props["WebACLArn"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        backend = wafv2_backends[account_id][region_name]
        backend.disassociate_web_acl(cloudformation_json.get("Properties", {}).get("ResourceArn"))

    def delete(self, account_id, region_name):
        wafv2_backends[account_id][region_name].disassociate_web_acl(self.resource_arn)


import hashlib  # noqa: E402
from email.utils import parseaddr  # noqa: E402

from moto.ses.exceptions import AlreadyExists  # noqa: E402
from moto.ses.models import SESBackend, ses_backends  # noqa: E402

_ses_is_verified_address = SESBackend._is_verified_address


def ses_is_verified_address(self, source):
    # As SES: a domain identity verifies its subdomains too (a subdomain's own identity would win).
    if _ses_is_verified_address(self, source):
        return True
    labels = parseaddr(source)[1].split("@", 1)[-1].split(".")
    return any(".".join(labels[i:]) in self.email_identities for i in range(1, len(labels) - 1))


SESBackend._is_verified_address = ses_is_verified_address

DKIM_ATTRIBUTES = tuple(f"DkimDNSToken{kind}{n}" for kind in ("Name", "Value") for n in (1, 2, 3))


class CloudFormationEmailIdentity(CloudFormationModel):
    """AWS::SES::EmailIdentity through moto's SES backend, which SESv2's SendEmail checks senders
    against. Ref is the identity (the domain or address), as on AWS."""

    __module__ = "moto.ses.cloudformation_email_identity"

    def __init__(self, name, account_id, region_name):
        self.name = name
        self.account_id = account_id
        self.region_name = region_name

    @property
    def physical_resource_id(self):
        return self.name

    @staticmethod
    def cloudformation_name_type():
        return "EmailIdentity"

    @staticmethod
    def cloudformation_type():
        return "AWS::SES::EmailIdentity"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in DKIM_ATTRIBUTES

    def get_cfn_attribute(self, attribute_name):
        # Easy DKIM's records: CNAME <token>._domainkey.<domain> -> <token>.dkim.amazonses.com, a
        # 32-character token each, stable for the identity as SES's are.
        n = attribute_name[-1]
        token = hashlib.sha256(f"{self.account_id}/{self.region_name}/{self.name}/{n}".encode()).hexdigest()[:32]
        if attribute_name.startswith("DkimDNSTokenName"):
            return f"{token}._domainkey.{self.name}"
        return f"{token}.dkim.amazonses.com"

    @staticmethod
    def _apply(identity, props):
        identity.verified_for_sending_status = True
        identity.dkim_attributes["SigningEnabled"] = bool(props.get("DkimAttributes", {}).get("SigningEnabled", True))
        length = props.get("DkimSigningAttributes", {}).get("NextSigningKeyLength")
        if length:
            identity.dkim_attributes["NextSigningKeyLength"] = length
        identity.dkim_attributes["Status"] = "SUCCESS"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        name = props["EmailIdentity"]
        backend = ses_backends[account_id][region_name]
        if name in backend.email_identities:
            # As SES: one identity per domain or address in an account and region.
            raise AlreadyExists(f"Email identity {name} already exist.")
        identity = backend.create_email_identity_v2(
            email_identity=name,
            tags=props.get("Tags") or None,
            dkim_signing_attributes=props.get("DkimSigningAttributes") or {},
            configuration_set_name=props.get("ConfigurationSetAttributes", {}).get("ConfigurationSetName"),
        )
        cls._apply(identity, props)
        return cls(name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = cloudformation_json.get("Properties", {})
        if props["EmailIdentity"] != original_resource.name:
            # A new domain or address replaces the identity, as CloudFormation does.
            created = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return created
        identity = ses_backends[account_id][region_name].email_identities[original_resource.name]
        identity.tags = props.get("Tags") or None
        cls._apply(identity, props)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        ses_backends[account_id][region_name].email_identities.pop(resource_name, None)

    def delete(self, account_id, region_name):
        ses_backends[account_id][region_name].email_identities.pop(self.name, None)


from moto.codebuild.models import CodeBuildBackend, codebuild_backends  # noqa: E402

_start_build = CodeBuildBackend.start_build


def start_build(self, project_name, source_version=None, artifact_override=None):
    metadata = _start_build(self, project_name, source_version, artifact_override)
    if source_version:
        metadata["resolvedSourceVersion"] = source_version
    return metadata


CodeBuildBackend.start_build = start_build
from moto.codepipeline.models import codepipeline_backends  # noqa: E402


def api_shape(value, verbatim=("Configuration",)):
    """CloudFormation's PascalCase structures as the service APIs take them (camelCase keys). The maps
    named in `verbatim` (an action's Configuration) keep their keys, as the APIs do."""
    if isinstance(value, list):
        return [api_shape(v, verbatim) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k[:1].lower() + k[1:]: (v if k in verbatim else api_shape(v, verbatim)) for k, v in value.items()
    }


class CloudFormationCodeBuildProject(CloudFormationModel):
    """AWS::CodeBuild::Project through moto's CodeBuild backend. Ref is the name; Arn its ARN."""

    __module__ = "moto.codebuild.cloudformation_project"

    def __init__(self, name, arn):
        self.name = name
        self.arn = arn

    @property
    def physical_resource_id(self):
        return self.name

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @staticmethod
    def cloudformation_type():
        return "AWS::CodeBuild::Project"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name):
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = api_shape(cloudformation_json.get("Properties", {}))
        # CloudFormation's Source.BuildSpec is the API's source.buildspec (all lower case).
        if "buildSpec" in props.get("source", {}):
            props["source"]["buildspec"] = props["source"].pop("buildSpec")
        name = props.get("name") or resource_name
        metadata = codebuild_backends[account_id][region_name].create_project(
            project_name=name,
            description=props.get("description"),
            project_source=props["source"],
            artifacts=props["artifacts"],
            environment=props["environment"],
            service_role=props["serviceRole"],
            tags=props.get("tags"),
            cache=props.get("cache"),
            timeout=props.get("timeoutInMinutes"),
            queued_timeout=props.get("queuedTimeoutInMinutes"),
            source_version=props.get("sourceVersion"),
            logs_config=props.get("logsConfig"),
            vpc_config=props.get("vpcConfig"),
        )
        return cls(name, metadata["arn"])

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        codebuild_backends[account_id][region_name].delete_project(original_resource.name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        codebuild_backends[account_id][region_name].delete_project(resource_name)

    def delete(self, account_id, region_name):
        codebuild_backends[account_id][region_name].delete_project(self.name)


class CloudFormationPipeline(CloudFormationModel):
    """AWS::CodePipeline::Pipeline through moto's CodePipeline backend. Ref is the name."""

    __module__ = "moto.codepipeline.cloudformation_pipeline"

    def __init__(self, name):
        self.name = name

    @property
    def physical_resource_id(self):
        return self.name

    @staticmethod
    def cloudformation_name_type():
        return "Name"

    @staticmethod
    def cloudformation_type():
        return "AWS::CodePipeline::Pipeline"

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr == "Version"

    def get_cfn_attribute(self, attribute_name):
        return "1"

    @staticmethod
    def _definition(name, props):
        shaped = api_shape({k: v for k, v in props.items() if k != "Tags"})
        shaped["name"] = name
        return shaped

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json.get("Properties", {})
        name = props.get("Name") or resource_name
        tags = [{"key": t["Key"], "value": t["Value"]} for t in props.get("Tags", [])]
        codepipeline_backends[account_id][region_name].create_pipeline(cls._definition(name, props), tags)
        return cls(name)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        props = cloudformation_json.get("Properties", {})
        name = props.get("Name") or original_resource.name
        if name != original_resource.name:
            # A new name replaces the pipeline, as CloudFormation does.
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        codepipeline_backends[account_id][region_name].update_pipeline(cls._definition(name, props))
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        codepipeline_backends[account_id][region_name].delete_pipeline(resource_name)

    def delete(self, account_id, region_name):
        codepipeline_backends[account_id][region_name].delete_pipeline(self.name)


import uuid  # noqa: E402

# CodeConnections (JSON 1.0, target prefix below): connections by ARN, each a dict as GetConnection
# returns it.
CONNECTIONS_TARGET = "CodeConnections_20231201."
_connections = {}
_connections_lock = threading.Lock()


def connections_call(operation, body, region):
    """Answers one CodeConnections call: (HTTP status, JSON body)."""
    if operation == "CreateConnection":
        tags = {t.get("Key"): t.get("Value") for t in body.get("Tags", [])}
        arn = f"arn:aws:codeconnections:{region}:123456789012:connection/{uuid.uuid4()}"
        connection = {
            "ConnectionName": body.get("ConnectionName", ""),
            "ConnectionArn": arn,
            "ProviderType": body.get("ProviderType", "GitHub"),
            "OwnerAccountId": "123456789012",
            "ConnectionStatus": tags.get("harness:status", "PENDING"),
        }
        with _connections_lock:
            _connections[arn] = connection
        return 200, {"ConnectionArn": arn, "Tags": body.get("Tags", [])}
    if operation == "GetConnection":
        with _connections_lock:
            connection = _connections.get(body.get("ConnectionArn"))
        if connection is None:
            return 400, {
                "__type": "ResourceNotFoundException",
                "Message": f"Connection {body.get('ConnectionArn')} does not exist",
            }
        return 200, {"Connection": connection}
    return 400, {"__type": "UnsupportedOperationException", "Message": f"{operation} is not emulated"}


def with_connections(app):
    def wsgi(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(CONNECTIONS_TARGET):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        # The credential scope names the region: Credential=KEY/DATE/REGION/SERVICE/aws4_request.
        scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        region = scope[2] if len(scope) > 2 else "us-east-1"
        status, answer = connections_call(target[len(CONNECTIONS_TARGET):], body, region)
        payload = json.dumps(answer).encode()
        start_response(
            "200 OK" if status == 200 else "400 Bad Request",
            [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return wsgi


from moto.cloudformation.exceptions import ValidationError  # noqa: E402
from moto.cloudformation.responses import CloudFormationResponse  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402


def update_termination_protection(self):
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection", False)
    return ActionResult({"StackId": stack.stack_id})


CloudFormationResponse.update_termination_protection = update_termination_protection

_get_template = CloudFormationResponse.get_template


def get_template(self):
    # As CloudFormation does: with ChangeSetName, the template that change set would deploy.
    change_set = self._get_param("ChangeSetName")
    if not change_set:
        return _get_template(self)
    template = self.cloudformation_backend.describe_change_set(change_set).template
    return ActionResult({"TemplateBody": template})


CloudFormationResponse.get_template = get_template

# CloudFormation pages a large change set's changes (NextToken); moto answers them all at once. The
# harness pages them one change at a time, so every change set the tests make has later pages, and a
# reader that stops at the first page misses changes the tests look for.
CHANGE_SET_PAGE = 1


class _ChangeSetPage:
    def __init__(self, change_set, changes, next_token):
        self._change_set = change_set
        self.changes = changes
        self.next_token = next_token

    def __getattr__(self, name):
        return getattr(self._change_set, name)


def describe_change_set(self):
    change_set = self.cloudformation_backend.describe_change_set(change_set_name=self._get_param("ChangeSetName"))
    changes = change_set.changes or []
    start = int(self._get_param("NextToken") or 0)
    end = start + CHANGE_SET_PAGE
    return ActionResult(_ChangeSetPage(change_set, changes[start:end], str(end) if end < len(changes) else None))


CloudFormationResponse.describe_change_set = describe_change_set


def _paged(original, key, size):
    # Answers `original`'s list under `key` a page of `size` at a time, as CloudFormation pages it.
    def paged(self):
        result = original(self).result
        items = result.get(key) or []
        start = int(self._get_param("NextToken") or 0)
        end = start + size
        return ActionResult({**result, key: items[start:end], "NextToken": str(end) if end < len(items) else None})

    return paged


# Likewise a stack's events and its resources, which moto answers on one page.
CloudFormationResponse.describe_stack_events = _paged(CloudFormationResponse.describe_stack_events, "StackEvents", 3)
CloudFormationResponse.list_stack_resources = _paged(
    CloudFormationResponse.list_stack_resources, "StackResourceSummaries", 2
)

# Drift detection: moto implements none of DetectStackDrift, DescribeStackDriftDetectionStatus and
# DescribeStackResourceDrifts. The harness answers them as CloudFormation does, comparing what it can read
# back from moto's backends: a Lambda function's MemorySize, Timeout and environment variables (a
# hand-made fix in the console, `aws lambda update-function-configuration`), and whether the function
# still exists. Every other resource is NOT_CHECKED, as CloudFormation answers for what it cannot read.
# A detection completes at once (CloudFormation takes seconds to minutes).
from moto.awslambda.models import lambda_backends  # noqa: E402

DRIFT_DETECTIONS = {}


def _lambda_drift(account_id, region_name, physical_id, props):
    backend = lambda_backends[account_id][region_name]
    try:
        function = backend.get_function(physical_id)
    except Exception:  # noqa: BLE001 - moto raises its own not-found errors
        return "DELETED", []
    differences = []
    for key, actual in (("MemorySize", function.memory_size), ("Timeout", function.timeout)):
        # A literal only: an intrinsic (Ref, Fn::If) the harness does not resolve is not compared.
        if key in props and not isinstance(props[key], (dict, list)) and str(props[key]) != str(actual):
            differences.append({"PropertyPath": f"/{key}", "ExpectedValue": str(props[key]),
                                "ActualValue": str(actual), "DifferenceType": "NOT_EQUAL"})
    expected_env = (props.get("Environment") or {}).get("Variables") or {}
    actual_env = function.environment_vars or {}
    for name in sorted(set(expected_env) | set(actual_env)):
        want, got = expected_env.get(name), actual_env.get(name)
        if isinstance(want, (dict, list)):
            continue  # an intrinsic the harness does not resolve: not compared
        if want is None:
            differences.append({"PropertyPath": f"/Environment/Variables/{name}", "ActualValue": json.dumps(got),
                                "ExpectedValue": "null", "DifferenceType": "ADD"})
        elif got is None:
            differences.append({"PropertyPath": f"/Environment/Variables/{name}", "ExpectedValue": json.dumps(want),
                                "ActualValue": "null", "DifferenceType": "REMOVE"})
        elif str(want) != str(got):
            differences.append({"PropertyPath": f"/Environment/Variables/{name}", "ExpectedValue": json.dumps(want),
                                "ActualValue": json.dumps(got), "DifferenceType": "NOT_EQUAL"})
    return ("MODIFIED" if differences else "IN_SYNC"), differences


def detect_stack_drift(self):
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    now = datetime.datetime.now(datetime.timezone.utc)
    drifts = []
    for logical_id, resource in stack.template_dict.get("Resources", {}).items():
        # The resources already made: `in` on moto's lazy ResourceMap would make any that were not.
        physical = stack.resource_map._parsed_resources.get(logical_id)
        if physical is None:
            continue
        physical_id = getattr(physical, "physical_resource_id", None) or logical_id
        kind = resource.get("Type", "")
        drift = {"StackId": stack.stack_id, "LogicalResourceId": logical_id, "PhysicalResourceId": physical_id,
                 "ResourceType": kind, "Timestamp": now, "PropertyDifferences": []}
        if kind == "AWS::Lambda::Function":
            status, differences = _lambda_drift(stack.account_id, stack.region_name, physical_id,
                                                resource.get("Properties", {}))
            drift["StackResourceDriftStatus"] = status
            drift["PropertyDifferences"] = differences
        else:
            drift["StackResourceDriftStatus"] = "NOT_CHECKED"
        drifts.append(drift)
    detection_id = str(uuid.uuid4())
    drifted = sum(1 for d in drifts if d["StackResourceDriftStatus"] in ("MODIFIED", "DELETED"))
    DRIFT_DETECTIONS[detection_id] = {
        "StackId": stack.stack_id,
        "StackDriftDetectionId": detection_id,
        "StackDriftStatus": "DRIFTED" if drifted else "IN_SYNC",
        "DetectionStatus": "DETECTION_COMPLETE",
        "DriftedStackResourceCount": drifted,
        "Timestamp": now,
        "_drifts": drifts,
    }
    return ActionResult({"StackDriftDetectionId": detection_id})


def describe_stack_drift_detection_status(self):
    detection = DRIFT_DETECTIONS.get(self._get_param("StackDriftDetectionId"))
    if detection is None:
        raise ValidationError(message="No stack drift detection with that id")
    return ActionResult({k: v for k, v in detection.items() if not k.startswith("_")})


def describe_stack_resource_drifts(self):
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    latest = [d for d in DRIFT_DETECTIONS.values() if d["StackId"] == stack.stack_id]
    if not latest:
        raise ValidationError(message=f"No drift detection has been run for stack {stack.name}")
    wanted = self._get_param("StackResourceDriftStatusFilters", []) or None
    drifts = [d for d in latest[-1]["_drifts"] if wanted is None or d["StackResourceDriftStatus"] in wanted]
    # One resource a page, as CloudFormation pages them: a reader that stops at the first page misses drift.
    start = int(self._get_param("NextToken") or 0)
    page = drifts[start:start + 1]
    token = str(start + 1) if start + 1 < len(drifts) else None
    return ActionResult({"StackResourceDrifts": page, "NextToken": token})


CloudFormationResponse.detect_stack_drift = detect_stack_drift
CloudFormationResponse.describe_stack_drift_detection_status = describe_stack_drift_detection_status
CloudFormationResponse.describe_stack_resource_drifts = describe_stack_resource_drifts

_delete_stack = CloudFormationBackend.delete_stack


def delete_stack(self, name_or_stack_id):
    for stack in list(self.stacks.values()):
        if name_or_stack_id in (stack.stack_id, stack.name) and stack.enable_termination_protection:
            raise ValidationError(
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
            )
    return _delete_stack(self, name_or_stack_id)


CloudFormationBackend.delete_stack = delete_stack


from urllib.parse import parse_qs, urlparse  # noqa: E402

from moto.iam.access_control import IAMPolicyStatement, PermissionResult  # noqa: E402
from moto.s3.responses import S3Response  # noqa: E402

_is_action_permitted = IAMPolicyStatement.is_action_permitted
# The object request being answered on this thread, for the condition keys S3 takes from a request.
_s3_request = threading.local()
_key_response = S3Response._key_response


def key_response(self, request, full_url):
    query = parse_qs(urlparse(full_url).query, keep_blank_values=True)
    headers = {k.lower(): v for k, v in request.headers.items()}
    _s3_request.current = {"method": request.method, "headers": headers, "query": query}
    try:
        return _key_response(self, request, full_url)
    finally:
        _s3_request.current = None


S3Response._key_response = key_response


def _values(v):
    return [str(x).lower() for x in (v if isinstance(v, list) else [v])]


def _request_conditions_hold(condition):
    """Evaluates, and removes from `condition`, the keys this harness reads off the request. Returns
    whether they hold; keys it does not know stay for moto."""
    request = getattr(_s3_request, "current", None)
    held = True
    for operator, key, value_of in (
        # Requests to the harness stand for requests over AWS's TLS endpoints.
        ("Bool", "aws:SecureTransport", lambda r: "true"),
        ("Null", "s3:if-none-match", lambda r: "false" if r and "if-none-match" in r["headers"] else "true"),
        (
            "Bool",
            "s3:ObjectCreationOperation",
            lambda r: "true" if r and r["method"] == "PUT" and "partNumber" not in r["query"] else "false",
        ),
    ):
        block = condition.get(operator) or {}
        if key in block:
            held = held and value_of(request) in _values(block.pop(key))
            if not block:
                condition.pop(operator, None)
    return held


def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    # moto holds every condition it cannot evaluate as met; these it can, from the request.
    condition = dict((k, dict(v)) for k, v in (self._statement.get("Condition") or {}).items())
    if not _request_conditions_hold(condition):
        return PermissionResult.NEUTRAL
    rest = IAMPolicyStatement({**self._statement, "Condition": condition} if condition else
                              {k: v for k, v in self._statement.items() if k != "Condition"})
    return _is_action_permitted(rest, action, resource, principal, incoming_condition_values)


IAMPolicyStatement.is_action_permitted = is_action_permitted


import moto.awslambda.models as lambda_models  # noqa: E402
from moto.s3.models import s3_backends  # noqa: E402

_validate_s3_bucket_and_key = lambda_models._validate_s3_bucket_and_key


def validate_s3_bucket_and_key(account_id, partition, data):
    # As Lambda does: with S3ObjectVersion, that version of the key, not its latest.
    version = data.get("S3ObjectVersion")
    if not version:
        return _validate_s3_bucket_and_key(account_id, partition, data)
    return s3_backends[account_id][partition].get_object(data["S3Bucket"], data["S3Key"], version_id=version)


lambda_models._validate_s3_bucket_and_key = validate_s3_bucket_and_key
_set_function_code = lambda_models.LambdaFunction._set_function_code


def set_function_code(self, updated_spec):
    _set_function_code(self, updated_spec)
    version = updated_spec.get("S3ObjectVersion")
    if version and "S3Bucket" in updated_spec and updated_spec is not self.code:
        key = s3_backends[self.account_id][self.partition].get_object(
            updated_spec["S3Bucket"], updated_spec["S3Key"], version_id=version
        )
        if key:
            self.code_bytes, self.code_size, self.code_sha_256, self.code_digest = lambda_models._s3_content(key)
        self.code["S3ObjectVersion"] = version


lambda_models.LambdaFunction._set_function_code = set_function_code


from moto.dynamodb.models import DynamoDBBackend  # noqa: E402

_dynamodb_writes = threading.Lock()


def _serialized(write):
    def serialized(self, *args, **kwargs):
        with _dynamodb_writes:
            return write(self, *args, **kwargs)

    return serialized


for _write in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _write, _serialized(getattr(DynamoDBBackend, _write)))


# CodePipeline's record of the actions of each execution (JSON 1.1, target prefix below): the local
# pipeline runner reports each action it runs; Apply reads them back with ListActionExecutions.
PIPELINE_TARGET = "CodePipeline_20150709."
_actions = {}  # (pipeline, execution) -> [action execution dicts, in the order reported]
_actions_lock = threading.Lock()


def _caller(auth):
    """The ARN of whoever signed a request: an assumed role's session, or the account's root."""
    key = auth.split("Credential=", 1)[-1].split("/", 1)[0]
    from moto.sts.models import sts_backends

    for role in sts_backends["123456789012"]["aws"].assumed_roles:
        if role.access_key_id == key:
            return f"arn:aws:sts::123456789012:assumed-role/{role.role_arn.split('/')[-1]}/{role.session_name}"
    return "arn:aws:iam::123456789012:root"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).timestamp()


def pipeline_call(operation, body, auth):
    """Answers one CodePipeline call this model owns, or None to leave it to moto."""
    if operation == "HarnessRecordActionExecution":
        record = {
            "pipelineExecutionId": body["pipelineExecutionId"],
            "actionExecutionId": str(uuid.uuid4()),
            "pipelineVersion": 1,
            "stageName": body["stageName"],
            "actionName": body["actionName"],
            "startTime": _now(),
            "lastUpdateTime": _now(),
            "status": body["status"],
            "output": {"outputVariables": body.get("outputVariables", {})},
        }
        if body.get("externalExecutionId"):
            record["output"]["executionResult"] = {"externalExecutionId": body["externalExecutionId"]}
        if body["status"] == "InProgress" and body.get("approval"):
            record["token"] = str(uuid.uuid4())
        with _actions_lock:
            runs = _actions.setdefault((body["pipelineName"], body["pipelineExecutionId"]), [])
            # A second report of the same action replaces the first, as its status moves on.
            runs[:] = [r for r in runs if (r["stageName"], r["actionName"]) != (body["stageName"], body["actionName"])]
            runs.append(record)
        return 200, {"actionExecutionId": record["actionExecutionId"], "token": record.get("token")}
    if operation == "GetPipeline":
        from moto.codepipeline.models import codepipeline_backends as pipelines

        region = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        region = region[2] if len(region) > 2 else "us-east-1"
        try:
            pipeline, metadata = pipelines["123456789012"][region].get_pipeline(body["name"])
        except Exception as e:  # noqa: BLE001 - the service's own error, as moto would answer it
            return 400, {"__type": "PipelineNotFoundException", "message": str(e)}
        epoch = {
            k: datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() if k in ("created", "updated") else v
            for k, v in metadata.items()
        }
        return 200, {"pipeline": pipeline, "metadata": epoch}
    if operation == "ListActionExecutions":
        wanted = (body.get("filter") or {}).get("pipelineExecutionId")
        with _actions_lock:
            found = [
                {k: v for k, v in r.items() if k != "token"}
                for (name, execution), runs in _actions.items()
                if name == body["pipelineName"] and wanted in (None, execution)
                for r in runs
            ]
        # Pages, as CodePipeline gives them: a caller that reads one page misses the rest.
        size = int(body.get("maxResults") or 100)
        start = int(body.get("nextToken") or 0)
        page = {"actionExecutionDetails": found[start:start + size]}
        if start + size < len(found):
            page["nextToken"] = str(start + size)
        return 200, page
    if operation == "GetPipelineState":
        with _actions_lock:
            latest = {}
            for (name, _), runs in _actions.items():
                if name == body["name"]:
                    for r in runs:
                        latest[(r["stageName"], r["actionName"])] = r
        stages = {}
        for (stage, action), r in latest.items():
            execution = {"actionExecutionId": r["actionExecutionId"], "status": r["status"]}
            if r.get("token") and r["status"] == "InProgress":
                execution["token"] = r["token"]
            stages.setdefault(stage, []).append({"actionName": action, "latestExecution": execution})
        return 200, {
            "pipelineName": body["name"],
            "stageStates": [{"stageName": s, "actionStates": a} for s, a in stages.items()],
        }
    if operation == "PutApprovalResult":
        with _actions_lock:
            for (name, _), runs in _actions.items():
                for r in runs:
                    if (
                        name == body["pipelineName"]
                        and r.get("token") == body["token"]
                        and (r["stageName"], r["actionName"]) == (body["stageName"], body["actionName"])
                        and r["status"] == "InProgress"
                    ):
                        approved = body["result"]["status"] == "Approved"
                        r["status"] = "Succeeded" if approved else "Failed"
                        r["updatedBy"] = _caller(auth)
                        r["lastUpdateTime"] = _now()
                        r["output"]["executionResult"] = {"externalExecutionSummary": body["result"].get("summary", "")}
                        return 200, {"approvedAt": _now()}
        return 400, {"__type": "InvalidApprovalTokenException", "message": "The approval token is not valid"}
    return None


def with_pipelines(app):
    def wsgi(environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(PIPELINE_TARGET):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length)
        body = json.loads(raw or b"{}")
        answer = pipeline_call(target[len(PIPELINE_TARGET):], body, environ.get("HTTP_AUTHORIZATION", ""))
        if answer is None:
            # moto's own: hand the body back to it.
            import io

            environ["wsgi.input"] = io.BytesIO(raw)
            return app(environ, start_response)
        status, reply = answer
        payload = json.dumps(reply).encode()
        start_response(
            "200 OK" if status == 200 else "400 Bad Request",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return wsgi


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    app = with_pipelines(with_connections(DomainDispatcherApplication(create_backend_app)))
    server = make_server("127.0.0.1", port, app, True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_port}", flush=True)
    # Block until the parent closes our stdin (or dies), then stop.
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
