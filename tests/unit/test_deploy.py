"""Offline validation of the production packaging in deploy/.

- every YAML file parses (PyYAML);
- the Kubernetes manifests validate against the Kubernetes 1.37 JSON schemas, strict
  (unknown fields refused), shipped offline by ``kubernetes-validate``;
- the Compose file validates against the Compose specification schema vendored by
  ``check-jsonschema`` (``builtin_schemas/vendor/compose-spec.json``, Apache-2.0);
- the systemd units parse (and pass ``systemd-analyze verify`` where it exists);
- every ``vms`` command line they run parses with the program's own argument parser;
- the example configurations validate with ``vms.config``, as rendered by vms-launch
  for an ingest worker too;
- every target runs the background worker (``vms worker``) and none runs ``vms purge``
  or ``vms repair`` from a loop, a timer or a CronJob any more (the worker does);
- the worker ids the packaging gives in ``VMS_WORKER_ID`` pass the program's own check.

Each check is a function that raises on a problem; the negative tests run the same
functions on broken copies, so a file that does not parse fails the suite.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml

from vms.app import App
from vms.cli import build_parser
from vms.config import Config, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
SYSTEMD = DEPLOY / "systemd"
K8S_VERSION = "1.37"
# one pass each, now done on their intervals by `vms worker`: never scheduled apart
PERIODIC = {"purge", "repair"}


class DeployError(AssertionError):
    """A deploy file is invalid; the message names the file and the problem."""


def _launcher() -> ModuleType:
    path = DEPLOY / "bin" / "vms-launch"
    loader = importlib.machinery.SourceFileLoader("vms_launch", str(path))
    spec = importlib.util.spec_from_loader("vms_launch", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# -- checks ---------------------------------------------------------------------------


def load_yaml(path: Path) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    except yaml.YAMLError as err:
        raise DeployError(f"{path}: YAML: {err}") from err


def check_kubernetes(path: Path) -> list[str]:
    """Validate every document of ``path``; return their kinds."""
    import kubernetes_validate

    kinds = []
    for doc in load_yaml(path):
        if not isinstance(doc, dict) or "kind" not in doc:
            raise DeployError(f"{path}: a document without kind")
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            raise DeployError(f"{path}: {doc['kind']}: {err.message}") from err
        except kubernetes_validate.SchemaNotFoundError as err:
            raise DeployError(f"{path}: {err.message}") from err
        kinds.append(doc["kind"])
    return kinds


def compose_schema() -> dict[str, Any]:
    import check_jsonschema

    vendor = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor"
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def check_compose(path: Path) -> dict[str, Any]:
    docs = load_yaml(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise DeployError(f"{path}: one mapping expected")
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(docs[0]), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise DeployError(f"{path}: {where}: {errors[0].message}")
    compose: dict[str, Any] = docs[0]
    return compose


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: sections of keys, each with its values in order (systemd allows
    repeated keys: ExecStart= of a oneshot, Wants=...)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
            if m is None:
                raise DeployError(f"{path}:{n}: bad section header {line!r}")
            current = sections.setdefault(m.group(1), {})
            continue
        key, sep, value = line.partition("=")
        if current is None or not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()):
            raise DeployError(f"{path}:{n}: not a KEY=VALUE line in a section: {line!r}")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def check_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    unit = parse_unit(path)
    kind = path.suffix.lstrip(".")
    expected = {"service": "Service", "timer": "Timer", "target": None}[kind]
    if "Unit" not in unit or "Description" not in unit["Unit"]:
        raise DeployError(f"{path}: [Unit] Description missing")
    if expected is not None and expected not in unit:
        raise DeployError(f"{path}: [{expected}] missing")
    for line in unit.get("Service", {}).get("ExecStart", []):
        check_vms_command(path, line.split())
    return unit


def vms_args(argv: list[str]) -> list[str] | None:
    """The arguments given to ``vms`` in a command line, None if it runs no vms."""
    for i, word in enumerate(argv):
        if word == "vms" or word.endswith("/vms"):
            return argv[i + 1 :]
    return None


def check_vms_command(source: Path, argv: list[str]) -> None:
    args = vms_args(argv)
    if args is None:
        return
    try:
        build_parser().parse_args(args)
    except SystemExit as err:
        raise DeployError(f"{source}: `vms {' '.join(args)}` is not a vms command") from err


def check_config_text(source: str, text: str) -> Config:
    try:
        return parse_config(tomllib.loads(text), source)
    except tomllib.TOMLDecodeError as err:
        raise DeployError(f"{source}: TOML: {err}") from err
    except Exception as err:
        raise DeployError(f"{source}: {getattr(err, 'message', err)}") from err


def container_commands(doc: dict[str, Any]) -> list[list[str]]:
    """Entrypoint + args of every container of the program's image in a workload."""
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec.get("template", {}).get("spec", {})
    return [
        [*c.get("command", ["vms-launch"]), *c.get("args", [])]
        for c in pod.get("containers", [])
        if str(c["image"]).startswith("vms:")
    ]


def split_launcher(argv: list[str]) -> tuple[list[str], list[str]]:
    """(vms-launch's own arguments, the command after --)."""
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def shell_vms_commands(argv: list[str]) -> list[list[str]]:
    """``vms ...`` command lines inside ``sh -c SCRIPT``."""
    if len(argv) >= 3 and argv[0].endswith("sh") and argv[1] == "-c":
        return [part.split() for part in re.split(r"&&|;|\n", argv[2]) if "vms " in part]
    return [argv]


def check_roles(source: Path, subcommands: set[str]) -> None:
    """A target runs the background worker, and no one-pass maintenance command."""
    if "worker" not in subcommands:
        raise DeployError(f"{source}: no `vms worker` (exports, alert desk, purge, repair)")
    scheduled = sorted(subcommands & PERIODIC)
    if scheduled:
        raise DeployError(f"{source}: runs `vms {'/'.join(scheduled)}`: `vms worker` does it")


def compose_subcommands(compose: dict[str, Any]) -> set[str]:
    found = set()
    for service in compose["services"].values():
        argv = [*service.get("entrypoint", ["vms-launch"]), *service.get("command", [])]
        for line in shell_vms_commands(split_launcher(argv[1:])[1]):
            args = vms_args(line)
            if args:
                found.add(args[-1])
    return found


def kubernetes_subcommands(paths: list[Path]) -> set[str]:
    found = set()
    for path in paths:
        for doc in load_yaml(path):
            if doc.get("kind") == "CronJob":
                raise DeployError(f"{path}: a CronJob ({doc['metadata']['name']})")
            for argv in container_commands(doc):
                for line in shell_vms_commands(split_launcher(argv[1:])[1]):
                    args = vms_args(line)
                    if args:
                        found.add(args[-1])
    return found


def systemd_subcommands(paths: list[Path]) -> set[str]:
    found = set()
    for path in paths:
        if path.suffix == ".timer":
            raise DeployError(f"{path}: a timer")
        for line in parse_unit(path).get("Service", {}).get("ExecStart", []):
            args = vms_args(line.split())
            if args:
                found.add(args[-1])
    return found


def check_worker_id(value: str) -> str:
    """The worker id the program derives from ``VMS_WORKER_ID=value`` (its own check)."""
    import os

    holder = type("Holder", (), {"config": Config.model_validate({})})()
    saved = os.environ.get("VMS_WORKER_ID")
    os.environ["VMS_WORKER_ID"] = value
    try:
        worker_id: str = App.worker_id.fget(holder)  # type: ignore[attr-defined]
    except Exception as err:
        raise DeployError(f"VMS_WORKER_ID={value!r}: {getattr(err, 'message', err)}") from err
    finally:
        if saved is None:
            del os.environ["VMS_WORKER_ID"]
        else:
            os.environ["VMS_WORKER_ID"] = saved
    return worker_id


# -- the files as shipped ---------------------------------------------------------------

YAML_FILES = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
K8S_FILES = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
UNITS = sorted(SYSTEMD.glob("vms*"))


def test_deploy_tree_is_complete() -> None:
    assert COMPOSE.is_file() and (K8S / "kustomization.yaml").is_file()
    assert {p.name for p in UNITS} >= {
        "vms.target", "vms-web.service", "vms-ingest@.service", "vms-analytics.service",
        "vms-migrate.service", "vms-worker.service",
    }  # fmt: skip
    # replaced by the long-running `vms worker`
    assert not (K8S / "maintenance-cronjob.yaml").exists()
    assert not list(SYSTEMD.glob("vms-maintenance.*"))


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    assert load_yaml(path)


@pytest.mark.parametrize("path", K8S_FILES, ids=lambda p: p.name)
def test_kubernetes_manifest_validates(path: Path) -> None:
    assert check_kubernetes(path)


def test_kustomization_lists_every_manifest() -> None:
    (kustomization,) = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    for name in listed:
        assert (K8S / name).is_file(), name
    # the Secrets are created out of band: their example is never applied
    assert listed == {p.name for p in K8S_FILES} - {"secrets.example.yaml"}


def test_kubernetes_secrets_hold_no_value() -> None:
    for path in K8S_FILES:
        for doc in load_yaml(path):
            if doc["kind"] == "Secret":
                assert path.name == "secrets.example.yaml", path
                for value in doc.get("stringData", {}).values():
                    assert value.startswith("<") and value.endswith(">"), (path, value)
                assert "data" not in doc


def _k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in K8S_FILES for doc in load_yaml(path)]


def test_kubernetes_vms_commands_parse() -> None:
    launcher = _launcher()
    seen = set()
    for doc in _k8s_docs():
        for argv in container_commands(doc):
            if argv[0] != "vms-launch":
                continue
            own, command = split_launcher(argv[1:])
            launcher.parse_args(own)  # vms-launch's own options are valid
            for line in shell_vms_commands(command):
                check_vms_command(K8S / doc["metadata"]["name"], line)
                seen.add(vms_args(line)[-1])  # type: ignore[index]
    assert {"web", "ingest", "analytics", "migrate", "worker"} <= seen
    assert not seen & PERIODIC


def test_kubernetes_config_validates_as_rendered() -> None:
    """The ConfigMap's vms.toml, and as each pod renders it with vms-launch."""
    launcher = _launcher()
    (configmap,) = load_yaml(K8S / "configmap.yaml")
    text = configmap["data"]["vms.toml"]
    check_config_text("configmap.yaml", text)
    for doc in _k8s_docs():
        for argv in container_commands(doc):
            own, _ = split_launcher(argv[1:])
            args, _ = launcher.parse_args([*own, "--", "true"])
            if not args.settings:
                continue
            settings = [
                s.replace("$(POD_NAME)", f"{doc['metadata']['name']}-0").replace(
                    "$(POD_NAMESPACE)", "vms"
                )
                for s in args.settings
            ]
            assert not any(s.startswith("cluster.worker_id=") for s in settings)
            rendered = launcher.render(text, launcher.parse_settings(settings))
            config = check_config_text(f"{doc['metadata']['name']} (rendered)", rendered)
            assert config.cluster.worker_id is None  # VMS_WORKER_ID: the pod name


def test_kubernetes_worker_ids_from_the_pod_name() -> None:
    """Ingest and analytics pods take their worker id from the downward API."""
    named = set()
    for doc in _k8s_docs():
        if doc["kind"] not in ("StatefulSet", "Deployment"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            if "VMS_WORKER_ID" in env:
                ref = env["VMS_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
                assert ref == "metadata.name", doc["metadata"]["name"]
                named.add(doc["metadata"]["name"])
    assert {"vms-ingest", "vms-analytics", "vms-analytics-gpu"} <= named
    # a StatefulSet pod name, and a Deployment's (name-<hash>-<suffix>)
    assert check_worker_id("vms-ingest-0") == "vms-ingest-0"
    assert check_worker_id("vms-analytics-gpu-7c9f8d6b5d-x2k4q")
    (configmap,) = load_yaml(K8S / "configmap.yaml")
    assert "worker_id" not in tomllib.loads(configmap["data"]["vms.toml"])["cluster"]


def test_kubernetes_layout_decisions() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _k8s_docs()}
    ingest = docs[("StatefulSet", "vms-ingest")]
    assert ingest["spec"]["serviceName"] == "vms-ingest"
    assert docs[("PodDisruptionBudget", "vms-ingest")]["spec"]["maxUnavailable"] == 1
    gpu = docs[("Deployment", "vms-analytics-gpu")]["spec"]["template"]["spec"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["tolerations"] and gpu["nodeSelector"]
    web = docs[("Deployment", "vms-web")]["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/healthz"
    # the background worker: two replicas, one down at a time, exports shared with web
    worker = docs[("Deployment", "vms-worker")]
    assert worker["spec"]["replicas"] == 2
    assert docs[("PodDisruptionBudget", "vms-worker")]["spec"]["maxUnavailable"] == 1
    assert "nodeSelector" not in worker["spec"]["template"]["spec"]  # no camera nodes
    exports = docs[("PersistentVolumeClaim", "vms-exports")]["spec"]
    assert exports["accessModes"] == ["ReadWriteMany"]
    for name in ("vms-web", "vms-worker"):
        pod = docs[("Deployment", name)]["spec"]["template"]["spec"]
        claims = [v.get("persistentVolumeClaim", {}).get("claimName") for v in pod["volumes"]]
        assert "vms-exports" in claims, name
    policy = docs[("NetworkPolicy", "vms-worker")]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert "ingress" not in policy and len(policy["egress"]) == 2
    nats_from = json.dumps(docs[("NetworkPolicy", "vms-nats")]["spec"]["ingress"])
    assert '"app.kubernetes.io/component": "worker"' in nats_from
    # LAW-12: the camera network CIDR is reachable from the ingest policy only
    cameras = "192.0.2.0/24"
    for (kind, name), doc in docs.items():
        if kind == "NetworkPolicy" and cameras in json.dumps(doc["spec"]):
            assert name == "vms-ingest", name
    assert docs[("NetworkPolicy", "default-deny")]["spec"]["podSelector"] == {}


# -- Compose -----------------------------------------------------------------------------


def test_compose_validates_against_the_specification() -> None:
    compose = check_compose(COMPOSE)
    expected = {"postgres", "minio-dc1", "minio-dc2", "minio-init", "nats", "migrate", "web",
                "proxy", "ingest-1", "analytics", "analytics-gpu", "worker"}  # fmt: skip
    assert expected <= set(compose["services"])
    assert "maintenance" not in compose["services"]
    worker = compose["services"]["worker"]
    assert worker["restart"] == "unless-stopped" and "ports" not in worker
    assert worker["networks"] == ["backend"]  # no camera network (LAW-12)
    assert "exports:/var/lib/vms/exports" in worker["volumes"]
    assert "exports:/var/lib/vms/exports" in compose["services"]["web"]["volumes"]


def test_compose_commands_configs_and_networks() -> None:
    compose = check_compose(COMPOSE)
    launcher = _launcher()
    here = COMPOSE.parent
    template = (here / "vms.toml.example").read_text(encoding="utf-8")
    check_config_text("vms.toml.example", template)
    for name, service in compose["services"].items():
        networks = service.get("networks", [])
        on_cameras = "cameras" in networks
        # LAW-12: the camera network reaches only the ingest workers
        assert on_cameras == name.startswith("ingest-"), name
        image = str(service.get("image", ""))
        if "VMS_" not in image:
            continue
        argv = [*service.get("entrypoint", ["vms-launch"]), *service["command"]]
        assert argv[0] == "vms-launch", name
        own, command = split_launcher(argv[1:])
        args, _ = launcher.parse_args([*own, "--", "true"])
        for line in shell_vms_commands(command):
            check_vms_command(COMPOSE, line)
        if args.settings:
            assert not any(s.startswith("cluster.worker_id=") for s in args.settings), name
            rendered = launcher.render(template, launcher.parse_settings(args.settings))
            check_config_text(f"compose {name} (rendered)", rendered)
        if name.startswith("ingest-"):  # a stable id of its own, valid for the program
            assert service["environment"]["VMS_WORKER_ID"] == name
            assert check_worker_id(name) == name
            assert service["environment"]["PGPASSFILE"] == "/run/secrets/pgpass"
    for kind in ("configs", "secrets"):
        for name, entry in compose[kind].items():
            file = here / entry["file"]
            if kind == "configs":  # shipped as an example, or as is
                assert file.exists() or file.with_name(file.name + ".example").exists(), name
    assert (here / ".env.example").is_file()
    gpu = compose["services"]["analytics-gpu"]["deploy"]["resources"]["reservations"]
    assert gpu["devices"][0]["driver"] == "nvidia"


# -- systemd -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_unit_parses(path: Path) -> None:
    check_unit(path)


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd is not installed on this machine (a container without an init): "
    "the units are still parsed and their command lines checked by the tests above",
)
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    units = []
    for path in UNITS:
        name = path.name.replace("@.", "@1.")  # a template is verified as an instance
        shutil.copy(path, tmp_path / name)
        units.append(str(tmp_path / name))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True, text=True, timeout=120, check=False,
        env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        # the program is not installed under /opt/vms here
        if line.strip() and "is not executable" not in line and "/opt/vms" not in line
    ]
    assert not problems, problems


def test_systemd_ingest_instances_render_valid_configs() -> None:
    launcher = _launcher()
    unit = check_unit(SYSTEMD / "vms-ingest@.service")
    (pre,) = unit["Service"]["ExecStartPre"]
    assert "cluster.worker_id" not in pre
    (environment,) = unit["Service"]["Environment"]
    name, _, pattern = environment.partition("=")
    assert name == "VMS_WORKER_ID"
    # %l: the short host name, which must be lower-case (documented in the unit)
    assert pattern == "%l-%i"
    for instance in "0123456789":
        value = pattern.replace("%l", "csu-1").replace("%i", instance)
        assert check_worker_id(value) == f"csu-1-{instance}"
    with pytest.raises(DeployError, match="VMS_WORKER_ID"):
        check_worker_id(pattern.replace("%l", "CSU-1").replace("%i", "1"))
    own = pre.split()[1:]
    template = (DEPLOY / "compose" / "vms.toml.example").read_text(encoding="utf-8")
    template = template.replace("relay_port = 8444\n", "")  # per instance here
    for instance in ("1", "2"):
        words = [w.replace("%i", instance).replace("%l", "csu-1") for w in own]
        args, _ = launcher.parse_args([*words, "--", "true"])
        rendered = launcher.render(template, launcher.parse_settings(args.settings))
        config = check_config_text(f"ingest@{instance}", rendered)
        assert config.cluster.worker_id is None  # from VMS_WORKER_ID
        assert config.live.relay_port == 8450 + int(instance)


def test_systemd_worker_unit() -> None:
    unit = check_unit(SYSTEMD / "vms-worker.service")
    assert unit["Service"]["Type"] == ["simple"] and unit["Service"]["Restart"] == ["always"]
    assert "vms-migrate.service" in unit["Unit"]["After"][0].split()
    assert unit["Unit"]["PartOf"] == ["vms.target"]
    assert unit["Install"]["WantedBy"] == ["vms.target"]
    wants = parse_unit(SYSTEMD / "vms.target")["Unit"]["Wants"][0].split()
    assert "vms-worker.service" in wants
    assert not [w for w in wants if "maintenance" in w]


# -- the background worker in every target -------------------------------------------------


def test_every_target_runs_the_worker_and_no_maintenance_loop() -> None:
    check_roles(COMPOSE, compose_subcommands(check_compose(COMPOSE)))
    check_roles(K8S, kubernetes_subcommands(K8S_FILES))
    check_roles(SYSTEMD, systemd_subcommands(UNITS))
    # no shell loop left in any file of the packaging either
    for path in [*YAML_FILES, *UNITS]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bvms\b[^\n]*\s(purge|repair)\b", text), path
        assert "while :" not in text, path


@pytest.mark.parametrize(
    "value", ["", "Ingest-1", "csu-1.example.org-1", "-ingest", "w" * 65, "ingest 1"]
)
def test_worker_id_refused(value: str) -> None:
    if value == "":  # empty: the override is unset, the default applies
        assert check_worker_id(value)
        return
    with pytest.raises(DeployError):
        check_worker_id(value)


# -- vms-launch ------------------------------------------------------------------------


def test_launcher_renders_after_the_section_header() -> None:
    launcher = _launcher()
    text = '[cluster]\nnats_url = "tls://n:4222"\n\n[[cameras]]\nid = "a"\n[live]\n'
    out = launcher.render(
        text,
        launcher.parse_settings(["cluster.worker_id=w-1", "live.relay_port=8451"]),
    )
    data = tomllib.loads(out)
    assert data["cluster"] == {"worker_id": "w-1", "nats_url": "tls://n:4222"}
    assert data["live"] == {"relay_port": 8451}
    assert data["cameras"] == [{"id": "a"}]


@pytest.mark.parametrize(
    ("template", "setting", "error"),
    [
        ("[live]\n", "cluster.worker_id=a", "section [cluster] missing"),
        ('[cluster]\nworker_id = "x"\n', "cluster.worker_id=a", "already set"),
        ("[cluster]\n", "worker_id=a", "SECTION.KEY=VALUE"),
    ],
)
def test_launcher_refuses(template: str, setting: str, error: str) -> None:
    launcher = _launcher()
    with pytest.raises(launcher.LaunchError, match=re.escape(error)):
        launcher.render(template, launcher.parse_settings([setting]))


def test_launcher_env_dir_and_exec(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.mkdir()
    (env / "VMS_RELAY_SECRET").write_text("s3cr3t-s3cr3t-s3cr3t\n", encoding="utf-8")
    (env / "not-a-variable").write_text("x", encoding="utf-8")
    (tmp_path / "in.toml").write_text("[cluster]\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "bin" / "vms-launch"), "--env-dir", str(env),
         "--template", str(tmp_path / "in.toml"), "--config", str(tmp_path / "out.toml"),
         "--set", "cluster.worker_id=w-1", "--", sys.executable, "-c",
         "import os; print(os.environ['VMS_RELAY_SECRET'], 'not-a-variable' in os.environ)"],
        capture_output=True, text=True, timeout=30, check=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.stdout.split() == ["s3cr3t-s3cr3t-s3cr3t", "False"]
    assert tomllib.loads((tmp_path / "out.toml").read_text())["cluster"]["worker_id"] == "w-1"
    assert load_config(tmp_path / "out.toml").cluster.worker_id == "w-1"


# -- a broken file fails ------------------------------------------------------------------


def _break(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, (source, old)
    broken = tmp_path / source.name
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    return broken


BROKEN = {
    "yaml-syntax": (K8S / "web.yaml", "  replicas: 2\n", "  replicas: [2\n", check_kubernetes),
    "k8s-unknown-field": (K8S / "web.yaml", "  replicas: 2\n", "  replicaz: 2\n", check_kubernetes),
    "k8s-wrong-type": (
        K8S / "ingest.yaml", "maxUnavailable: 1", "maxUnavailable: {a: 1}", check_kubernetes,
    ),
    "compose-unknown-key": (COMPOSE, "    restart: unless-stopped\n    command:\n",
                            "    restart: unless-stopped\n    comand:\n", check_compose),
    "compose-yaml-syntax": (COMPOSE, "name: vms\n", "name: [vms\n", check_compose),
    "unit-bad-subcommand": (SYSTEMD / "vms-web.service", "--log-json web", "--log-json webb",
                            check_unit),
    "unit-garbage-line": (SYSTEMD / "vms-web.service", "Restart=always", "Restart always",
                          check_unit),
    "config-unknown-key": (DEPLOY / "compose" / "vms.toml.example", "pool_max = 8",
                           "pool_maxi = 8", None),
    "config-bad-toml": (DEPLOY / "compose" / "vms.toml.example", "pool_max = 8",
                        "pool_max = = 8", None),
    "compose-no-worker": (COMPOSE, '"--log-json", "worker"]', '"--log-json", "purge"]',
                          lambda p: check_roles(p, compose_subcommands(check_compose(p)))),
    "k8s-no-worker": (K8S / "worker.yaml", '"--log-json", "worker"]', '"--log-json", "repair"]',
                      lambda p: check_roles(p, kubernetes_subcommands([p]))),
    "k8s-cronjob": (K8S / "worker.yaml", "kind: Deployment", "kind: CronJob",
                    lambda p: kubernetes_subcommands([p])),
    "unit-no-worker": (SYSTEMD / "vms-worker.service", "--log-json worker", "--log-json repair",
                       lambda p: check_roles(p, systemd_subcommands([p]))),
    "unit-worker-bad-subcommand": (SYSTEMD / "vms-worker.service", "--log-json worker",
                                   "--log-json workers", check_unit),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_copy_fails(case: str, tmp_path: Path) -> None:
    source, old, new, check = BROKEN[case]
    broken = _break(tmp_path, source, old, new)
    with pytest.raises(DeployError):
        if check is None:
            check_config_text(broken.name, broken.read_text(encoding="utf-8"))
        else:
            check(broken)
