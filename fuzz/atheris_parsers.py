"""Coverage-guided fuzzing of the parsers an IdP's input reaches: JSON bodies, filters, PATCH operations.

Run by hand (atheris is not a test dependency; it builds against libFuzzer):

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/atheris_parsers.py -max_total_time=300

Any exception other than a ScimError (the way scimgate refuses input) is a finding: atheris stops and writes the
input that caused it. tests/scim/test_fuzz.py runs the same property through the whole app with Hypothesis on every
test run.
"""

import json
import sys
from typing import Any

import atheris

with atheris.instrument_imports():
    from scimgate.scim.errors import ScimError
    from scimgate.scim.filters import compile_filter
    from scimgate.scim.http import _check_strings, _reject_constant, _unique_keys
    from scimgate.scim.patch import apply_patch
    from scimgate.scim.resource_types import GROUPS, USERS
    from scimgate.scim.validation import parse_resource

USER = {"userName": "ada@example.com", "emails": [{"type": "work", "value": "ada@example.com"}], "active": True}


def _body(data: bytes) -> Any:
    parsed = json.loads(data, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    _check_strings(parsed)
    return parsed


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    choice = provider.ConsumeIntInRange(0, 3)
    rest = provider.ConsumeBytes(len(data))
    try:
        if choice == 0:
            text = rest.decode("utf-8", "surrogatepass")
            compile_filter(USERS, text, "sqlite")
            compile_filter(GROUPS, text, "postgresql")
        elif choice == 1:
            parse_resource(USERS, _body(rest))
        elif choice == 2:
            apply_patch(USERS, dict(USER), _body(rest), strict=False)
        else:
            apply_patch(GROUPS, {"displayName": "Team"}, _body(rest), strict=True)
    except (ScimError, ValueError, RecursionError):
        pass  # refused as it should be (ValueError and RecursionError: the JSON parser's, turned into 400 by http.py)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
