"""Print the template after the SAM transform, as CloudFormation would see it, without AWS.

Runs in the deploy virtualenv (samtranslator comes with the SAM CLI); `cfn-lint` on its output
catches what linting the SAM template misses, such as a circular dependency between the
function and its generated role. Usage: python tools/sam_transform.py template.yaml > out.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class _NoManagedPolicies:
    """The transform asks IAM for managed policy ARNs only when a template names one by bare name;
    this template does not, and CI has no AWS account to ask."""

    def load(self) -> dict[str, str]:
        return {}


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "template.yaml"
    with open(path, encoding="utf-8") as handle:
        template: dict[str, Any] = yaml_parse(handle.read())
    # What `sam package` does before CloudFormation sees the template: local code becomes an S3 object.
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifact-bucket/slack-bot.zip"
    transformed = transform(template, {}, _NoManagedPolicies())
    json.dump(transformed, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
