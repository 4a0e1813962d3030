"""The Helm chart (deploy/helm/scimgate), rendered offline by Helm's own engine (helm-python-sdk binds Helm's Go SDK;
no cluster, no helm binary), linted by Helm, and each manifest validated against Kubernetes' schemas."""

import base64
from collections.abc import Iterator
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from scimgate.version import __version__
from tests.deploy.helpers import DEPLOY, unknown_settings

CHART = DEPLOY / "helm" / "scimgate"
DATABASE_URL = "postgresql+psycopg://scimgate:pw@postgres:5432/scimgate"
POSTGRES = {"replicaCount": 2, "operatorKey": "k" * 32, "database": {"url": DATABASE_URL}}
INFO = 1  # Helm's lint severities: 1 info, 2 warning, 4 error


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name="prod", namespace="idp")
    texts = [text for path, text in manifests.items() if path.endswith(".yaml")]  # not NOTES.txt
    return [doc for text in texts for doc in yaml.safe_load_all(text) if doc]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


def containers(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            spec = doc["spec"]["template"]["spec"]
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def test_chart_lints_clean_and_carries_the_package_version() -> None:
    """helm lint finds nothing above "info" (an icon is recommended), and the chart's appVersion, hence the image
    tag by default, is the package's version."""
    report = helm.lint(str(CHART))
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] > INFO] == []
    with helm.Chart.load(str(CHART)) as chart:
        assert chart.metadata["appVersion"] == __version__
    assert one(render({}), "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"scimgate:{__version__}"
    )


@pytest.mark.parametrize(
    "values",
    [{}, POSTGRES, {**POSTGRES, "ingress": {"enabled": True, "tlsSecretName": "tls"}}],
    ids=["sqlite", "postgres", "ingress"],
)
def test_every_manifest_is_valid_kubernetes(values: dict[str, Any]) -> None:
    """Each rendered manifest passes Kubernetes' own schema, strictly (a misplaced or misspelt field fails)."""
    for doc in render(values):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_postgres_release_migrates_before_the_pods_with_its_secret() -> None:
    """With PostgreSQL: a pre-install/pre-upgrade Job runs `migrate` with the database URL from a Secret that the
    hook order creates first; two replicas with a PodDisruptionBudget; no volume claim."""
    docs = render(POSTGRES)
    job, secret = one(docs, "Job"), one(docs, "Secret")
    hooks = job["metadata"]["annotations"]
    assert set(hooks["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert set(secret["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(hooks["helm.sh/hook-weight"])
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate"]
    url_ref = env(migrate)["SCIMGATE_DATABASE_URL"]["secretKeyRef"]
    assert url_ref["name"] == secret["metadata"]["name"]
    assert base64.b64decode(secret["data"][url_ref["key"]]).decode() == DATABASE_URL
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2 and "strategy" not in deployment["spec"]
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    assert not [doc for doc in docs if doc["kind"] == "PersistentVolumeClaim"]


def test_pods_are_probed_non_root_and_write_only_to_their_volumes() -> None:
    """Readiness on /readyz, liveness on /healthz; every container runs as a non-root user with a read-only root
    filesystem, resources set, and /data and /tmp as its only writable mounts; settings are known SCIMGATE_ names
    and no secret is a plain value."""
    for values in ({}, POSTGRES):
        docs = render(values)
        pod = one(docs, "Deployment")["spec"]["template"]["spec"]
        server = pod["containers"][0]
        assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        for container in containers(docs):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
            assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/data", "/tmp"}
            variables = env(container)
            assert unknown_settings(variables) == set()
            for secret in ("SCIMGATE_OPERATOR_KEY", "SCIMGATE_DATABASE_URL"):
                assert not isinstance(variables.get(secret), str), f"{secret} is a plain value"


def test_sqlite_release_is_one_pod_on_a_kept_volume() -> None:
    """With SQLite (the default): one replica, replaced with Recreate, the migration as an init container on the
    same volume, a claim that an uninstall keeps; two replicas or no volume are refused at render time."""
    docs = render({})
    deployment = one(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert [c["args"] for c in pod["initContainers"]] == [["migrate"]]
    claim = one(docs, "PersistentVolumeClaim")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    data = next(volume for volume in pod["volumes"] if volume["name"] == "data")
    assert data["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert not [doc for doc in docs if doc["kind"] == "Job"]
    with pytest.raises(helm.HelmError, match="replicaCount > 1 needs PostgreSQL"):
        render({"replicaCount": 2})
    with pytest.raises(helm.HelmError, match="needs persistence.enabled=true"):
        render({"persistence": {"enabled": False}})


def test_ingress_sets_the_public_url() -> None:
    """The Ingress routes its host to the Service, and the pods build every Location from https://<host>."""
    docs = render({**POSTGRES, "ingress": {"enabled": True, "host": "scim.example.org", "tlsSecretName": "tls"}})
    ingress = one(docs, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert rule["host"] == "scim.example.org" and backend["name"] == one(docs, "Service")["metadata"]["name"]
    assert ingress["spec"]["tls"] == [{"hosts": ["scim.example.org"], "secretName": "tls"}]
    server = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert env(server)["SCIMGATE_PUBLIC_URL"] == "https://scim.example.org"
    assert not [doc for doc in render(POSTGRES) if doc["kind"] == "Ingress"]


def test_every_value_is_documented() -> None:
    """Each top-level key of values.yaml has a comment just above it (or is one of the Kubernetes pass-throughs),
    and the default settings are known SCIMGATE_ names."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    passthrough = {"nodeSelector", "tolerations", "affinity", "service", "database", "image"}
    for index, line in enumerate(lines):
        if line and not line[0].isspace() and not line.startswith("#") and ":" in line:
            key = line.split(":")[0]
            assert key in passthrough or lines[index - 1].startswith("#"), f"{key} is not documented"
    assert unknown_settings(yaml.safe_load((CHART / "values.yaml").read_text())["settings"]) == set()
