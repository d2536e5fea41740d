"""Audits IAM policy documents with parliament, all in one process.

Reads a JSON array of {"id": str, "document": {...}} on stdin and writes a JSON array of findings on
stdout, each with the policy's id, the index of the statement it is about (None for a finding about
the whole document), the issue, its severity and parliament's detail.
"""
import json
import sys

import parliament
from parliament import analyze_policy_string, enhance_finding


def plain(value):
    """Parliament's details may hold jsoncfg nodes; turn them into JSON values."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if hasattr(value, "value"):
        return plain(value.value)
    return str(value)


def finding(policy_id, statement, f):
    f = enhance_finding(f)
    location = f.location if isinstance(f.location, dict) else {}
    return {
        "policy": policy_id,
        "statement": statement,
        "issue": f.issue,
        "severity": f.severity,
        "detail": plain(f.detail),
        "string": plain(location.get("string")),
    }


def main():
    policies = json.load(sys.stdin)
    findings = []
    for policy in policies:
        result = analyze_policy_string(json.dumps(policy["document"]), filepath=policy["id"])
        findings.extend(finding(policy["id"], None, f) for f in result._findings)
        for index, statement in enumerate(result.statements):
            findings.extend(finding(policy["id"], index, f) for f in statement.findings)
    json.dump({"version": parliament.__version__, "policies": len(policies), "findings": findings}, sys.stdout)


if __name__ == "__main__":
    main()
