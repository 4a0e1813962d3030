"""``scimgate check``: replay an IdP's provisioning cycle against any SCIM endpoint and explain what would fail.

Microsoft's validator is a hosted tool that needs a public URL and an account; this runs locally or in CI against
scimgate or any other SCIM 2.0 endpoint, and says, step by step, what the IdP would do about each failure.
"""

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx2

from scimgate.check import authentik, entra, generic, jumpcloud, okta, onelogin
from scimgate.check.runner import Outcome, Session, check_url, cleanup, run_steps

IDPS = {
    "entra": entra,
    "okta": okta,
    "authentik": authentik,
    "onelogin": onelogin,
    "jumpcloud": jumpcloud,
    "generic": generic,
}


@dataclass
class Report:
    url: str
    idp: str
    outcomes: list[Outcome]
    left_behind: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    def summary(self) -> str:
        failed = [o for o in self.outcomes if not o.passed and not o.skipped]
        skipped = [o for o in self.outcomes if o.skipped]
        quarantine = any(o.quarantine for o in failed)
        text = f"{len(self.outcomes) - len(failed) - len(skipped)} of {len(self.outcomes)} steps passed"
        if failed:
            text += f", {len(failed)} failed"
        if skipped:
            text += f", {len(skipped)} not run"
        if quarantine:
            text += "; Entra would quarantine this provisioning job"
        return text + "."

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "idp": self.idp,
            "passed": self.passed,
            "summary": self.summary(),
            "steps": [outcome.as_dict() for outcome in self.outcomes],
            "left_behind": self.left_behind,
        }

    def lines(self) -> list[str]:
        out = [f"scimgate check {self.url} ({self.idp})", ""]
        for outcome in self.outcomes:
            mark = "PASS" if outcome.passed else "SKIP" if outcome.skipped else "FAIL"
            out.append(f"{mark}  {outcome.name}")
            if outcome.passed:
                continue
            out.append(f"      what happened: {outcome.problem}")
            last = outcome.failed_exchange or (outcome.exchanges[-1] if outcome.exchanges else None)
            if last is not None:
                out.append(f"      request:       {last.method} {last.path}")
                out.append(f"      answer:        {last.status} {last.content_type}")
            if outcome.consequence:
                out.append(f"      {self.idp} would:   {outcome.consequence}")
            if outcome.fix:
                out.append(f"      fix:           {outcome.fix}")
        if self.left_behind:
            out += ["", f"Could not delete what the check created: {', '.join(self.left_behind)}"]
        return [*out, "", self.summary()]


def run_check(
    url: str, token: str, idp: str = "entra", keep: bool = False, client: httpx2.Client | None = None
) -> Report:
    """Run the IdP's cycle against ``url`` (a SCIM base URL) with ``token``."""
    base = check_url(url)
    steps = IDPS[idp]
    own = client is None
    http = client or httpx2.Client(timeout=30, follow_redirects=False)
    session = Session(base, http, token, tag=secrets.token_hex(4))
    try:
        outcomes = run_steps(session, steps.STEPS, steps.CRITICAL)
        left = [] if keep else cleanup(session)
    finally:
        if own:
            http.close()
    return Report(base, idp, outcomes, left)
