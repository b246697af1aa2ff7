"""Deployment policies: YAML files (shipped: default, strict, permissive), their loader, the rules
(`RULES`, one class each, ids BDSnnn) and the engine that decides a scanned model against them."""

from policies.engine import (
    AllowlistMatch,
    PolicyResult,
    evaluate,
    evaluate_outcome,
    evaluate_outcomes,
)
from policies.findings import ACTIONS, DEFAULT_FAIL_ON, Action, Confidence, Finding, Severity
from policies.loader import (
    SHIPPED,
    init_policy_text,
    lint_policy,
    load_policy,
    parse_policy,
    shipped_policy_path,
)
from policies.policy import POLICY_SCHEMA_VERSION, AllowEntry, ModelRules, Policy, XrayRules
from policies.rules import RULES, Rule, rule_doc, rule_summary

__all__ = [
    "ACTIONS",
    "DEFAULT_FAIL_ON",
    "POLICY_SCHEMA_VERSION",
    "RULES",
    "SHIPPED",
    "Action",
    "AllowEntry",
    "AllowlistMatch",
    "Confidence",
    "Finding",
    "ModelRules",
    "Policy",
    "PolicyResult",
    "Rule",
    "Severity",
    "XrayRules",
    "evaluate",
    "evaluate_outcome",
    "evaluate_outcomes",
    "init_policy_text",
    "lint_policy",
    "load_policy",
    "parse_policy",
    "rule_doc",
    "rule_summary",
    "shipped_policy_path",
]
